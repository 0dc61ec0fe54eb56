// Package secrets reads Telegraf config.Secret values for libraries that
// want plain strings (the Tencent Cloud SDK, go-mail).
package secrets

import "github.com/influxdata/telegraf/config"

// Reveal returns the secret's value; an empty secret is "". The protected
// buffer is destroyed before returning.
func Reveal(s config.Secret) (string, error) {
	if s.Empty() {
		return "", nil
	}
	buf, err := s.Get()
	if err != nil {
		return "", err
	}
	defer buf.Destroy()
	return buf.String(), nil
}
