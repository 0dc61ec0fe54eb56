package ckafka_lag

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/tcloud"
)

// errorClass names a failure for ckafka_lag_gather's last_error, which the
// output shows in its "collection failing" alert: the cloud API's error
// code (AuthFailure.SecretIdNotFound), Kafka's error name
// (GROUP_AUTHORIZATION_FAILED), or the kind of network failure. Never the
// message: it may quote what it was given, and a code is what one searches.
func errorClass(err error) string {
	if code := tcloud.Code(err); code != "" {
		return code
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Message
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "Timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "ConnectionRefused"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return "ConnectionClosed"
	case errors.As(err, &ne):
		return "NetworkError"
	}
	return "Error"
}

// noteError keeps the class of the collection's most recent failure; the
// failure that aborted the collection (revoked credentials) wins over the
// cancellations it caused.
func (col *collection) noteError(err error) {
	col.mu.Lock()
	defer col.mu.Unlock()
	if col.abortedBy != nil && col.lastError != "" {
		return
	}
	col.lastError = errorClass(err)
}

// expect adds groups the collection meant to read: the ones listed, or,
// when the listing failed, as many as the last listing of where found.
func (col *collection) expect(where string, listed int, ok bool) {
	c := col.c
	c.knownMu.Lock()
	if ok {
		c.knownGroups[where] = listed
	} else {
		listed = c.knownGroups[where]
	}
	c.knownMu.Unlock()
	col.mu.Lock()
	col.expected += listed
	col.mu.Unlock()
}

// expectAllKnown adds every group the last listings found: nothing of the
// account could be listed this time.
func (col *collection) expectAllKnown() {
	c := col.c
	c.knownMu.Lock()
	n := 0
	for _, v := range c.knownGroups {
		n += v
	}
	c.knownMu.Unlock()
	col.mu.Lock()
	col.expected += n
	col.mu.Unlock()
}

// health returns ckafka_lag_gather's failed_groups and last_error.
func (col *collection) health() (failed int64, lastError string) {
	col.mu.Lock()
	defer col.mu.Unlock()
	return int64(max(0, col.expected-col.groups)), col.lastError
}

// aborter is the failure that stopped the collection, if any.
func (col *collection) aborter() error {
	col.mu.Lock()
	defer col.mu.Unlock()
	return col.abortedBy
}

// addHealth adds failed_groups, and last_error when something failed.
func (col *collection) addHealth(fields map[string]interface{}) {
	if col.role != "" {
		fields["role"] = col.role
		if col.active != "" {
			fields["active"] = col.active
		}
	}
	failed, lastError := col.health()
	fields["failed_groups"] = failed
	if lastError != "" {
		fields["last_error"] = lastError
	}
}

// report adds one error naming where it happened. Authentication and
// permission failures stop the collection: every further call would fail
// the same way, so they are reported once, with what to check.
func (col *collection) report(err error, where string) {
	region := "region " + col.c.Region
	if where != "" {
		where = region + " " + where
	} else {
		where = region
	}
	if tcloud.IsAuth(err) {
		col.aborted.Do(func() {
			col.noteError(err)
			col.mu.Lock()
			col.abortedBy = err
			col.mu.Unlock()
			col.abort()
			col.acc.AddError(fmt.Errorf("%s: %v: %s (credentials from %s)", where, err, authHint(tcloud.Code(err)), col.c.credSource))
		})
		return
	}
	if col.ctx.Err() != nil && col.aborter() != nil {
		return // cancelled because of the reported auth failure
	}
	col.noteError(err)
	col.acc.AddError(fmt.Errorf("%s: %w", where, err))
}

func authHint(code string) string {
	switch {
	case code == "AuthFailure.SignatureExpire":
		return "the request timestamp is more than 5 minutes off Tencent Cloud's clock; synchronise this host's clock (NTP)"
	case code == "AuthFailure.TokenFailure":
		return "the STS token is invalid or expired; refresh token together with secret_id and secret_key"
	case strings.HasPrefix(code, "UnauthorizedOperation"), code == "AuthFailure.UnauthorizedOperation":
		return "the key lacks CAM permissions; grant ckafka:DescribeInstances, ckafka:DescribeGroup, ckafka:DescribeGroupOffsets, ckafka:DescribeGroupInfo and ckafka:DescribeTopicAttributes"
	default:
		return "check that the SecretId exists and is enabled and that the SecretKey belongs to it"
	}
}
