package ckafka_lag

import (
	"context"
	"errors"
	"io"
	"net"
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
