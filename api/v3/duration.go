package v3

import (
	"fmt"
	"time"
)

// Duration is a Go duration string such as "90s" or "1m30s". It is kept as written, so
// "60s" does not come back as "1m0s"; Parse gives the value.
// +kubebuilder:validation:Pattern=`^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$`
type Duration string

// Parse returns the duration.
func (d Duration) Parse() (time.Duration, error) {
	v, err := time.ParseDuration(string(d))
	if err != nil {
		return 0, fmt.Errorf("parsing duration %q: %w", string(d), err)
	}
	return v, nil
}

// DurationOf returns the duration in Go's standard text form.
func DurationOf(d time.Duration) Duration { return Duration(d.String()) }
