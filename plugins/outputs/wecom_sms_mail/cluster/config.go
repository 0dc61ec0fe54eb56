package cluster

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/influxdata/telegraf/config"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/kafkaconn"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/lease"
)

// Config is [outputs.wecom_sms_mail.cluster].
type Config struct {
	kafkaconn.Config
	Topic          string          `toml:"topic"`
	Group          string          `toml:"group"`
	MemberName     string          `toml:"member_name"`
	SessionTimeout config.Duration `toml:"session_timeout"`
	// FallbackAfter, when set, runs the member stand-alone (it delivers
	// alone, without a lease) once the brokers stayed unreachable that
	// long after start; 0 waits for them.
	FallbackAfter config.Duration `toml:"fallback_after"`
}

// Host is the machine's name, told with the member's name in the lease so
// that the collector on this machine follows this member without being told
// its name (the collector's cluster_member_name is only an override).
func (c *Config) Host() string {
	host, err := os.Hostname()
	if err != nil {
		return c.MemberName
	}
	return host
}

// DefaultName is the default topic and group.
const DefaultName = lease.DefaultName

// Validate sets the defaults and checks the keys.
func (c *Config) Validate() error {
	if c.Topic == "" {
		c.Topic = DefaultName
	}
	if c.Group == "" {
		c.Group = DefaultName
	}
	if c.MemberName == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("cluster.member_name: not set and the hostname is unknown: %w", err)
		}
		c.MemberName = host
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = config.Duration(lease.DefaultSessionTimeout)
	}
	switch {
	case time.Duration(c.SessionTimeout) < time.Second:
		return fmt.Errorf("cluster.session_timeout: %s is below 1s", time.Duration(c.SessionTimeout))
	case c.FallbackAfter < 0:
		return errors.New("cluster.fallback_after must not be negative (0 waits for the brokers)")
	}
	return nil
}
