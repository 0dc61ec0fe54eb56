// Package kafkaconn builds franz-go client options from the connection keys
// the plugins share: brokers, SASL and TLS. The input's Kafka source and
// the HA pair's coordination both use it, so one broker list is written the
// same way everywhere.
package kafkaconn

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/influxdata/telegraf/config"
	common_tls "github.com/influxdata/telegraf/plugins/common/tls"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/secrets"
)

// Config are the connection keys of a TOML table. Prefix names the table
// in errors (e.g. "cluster."), so a mistake names the key as written.
type Config struct {
	Brokers       []string      `toml:"brokers"`
	SASLMechanism string        `toml:"sasl_mechanism"`
	SASLUsername  string        `toml:"sasl_username"`
	SASLPassword  config.Secret `toml:"sasl_password"`
	common_tls.ClientConfig
}

// Opts validates the keys and returns the client options; user describes
// the SASL identity for error messages ("" without SASL).
func (c *Config) Opts(prefix string, timeout time.Duration) (opts []kgo.Opt, user string, err error) {
	if len(c.Brokers) == 0 {
		return nil, "", fmt.Errorf("%sbrokers is required (bootstrap host:port list)", prefix)
	}
	for i, b := range c.Brokers {
		if strings.TrimSpace(b) == "" || !strings.Contains(b, ":") {
			return nil, "", fmt.Errorf("%sbrokers[%d]: %q is not host:port", prefix, i, b)
		}
	}
	opts = []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.DialTimeout(timeout), kgo.RetryTimeout(timeout)}
	password, err := secrets.Reveal(c.SASLPassword)
	if err != nil {
		return nil, "", fmt.Errorf("%ssasl_password: %w", prefix, err)
	}
	mech, err := SASL(c.SASLMechanism, c.SASLUsername, password)
	if err != nil {
		return nil, "", fmt.Errorf("%s%w", prefix, err)
	}
	if mech != nil {
		opts = append(opts, kgo.SASL(mech))
		user = fmt.Sprintf("SASL %s as user %q", c.SASLMechanism, c.SASLUsername)
	}
	tlsConfig, err := c.ClientConfig.TLSConfig()
	if err != nil {
		return nil, "", fmt.Errorf("%stls: %w", prefix, err)
	}
	if tlsConfig != nil {
		opts = append(opts, kgo.DialTLSConfig(tlsConfig))
	}
	return opts, user, nil
}

// SASL returns the mechanism the keys name, or nil without one.
func SASL(name, user, password string) (sasl.Mechanism, error) {
	if name == "" {
		if user != "" || password != "" {
			return nil, errors.New("sasl_username and sasl_password need sasl_mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
		return nil, nil
	}
	if user == "" {
		return nil, fmt.Errorf("sasl_mechanism %q needs sasl_username (CKafka: instanceId#user)", name)
	}
	switch name {
	case "PLAIN":
		return plain.Auth{User: user, Pass: password}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: password}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: user, Pass: password}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("sasl_mechanism: %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", name)
}
