package models

import "time"

// TimeoutConfig is a session's lifetime policy, in minutes.
type TimeoutConfig struct {
	TimeoutMinutes          int  `gorm:"not null" json:"timeoutMinutes"`
	AutoRenew               bool `gorm:"not null" json:"autoRenew"`
	MaxDurationMinutes      int  `gorm:"not null" json:"maxDurationMinutes"`
	WarningThresholdMinutes int  `gorm:"not null" json:"warningThresholdMinutes"`
}

func (c TimeoutConfig) timeout() time.Duration     { return minutes(c.TimeoutMinutes) }
func (c TimeoutConfig) maxDuration() time.Duration { return minutes(c.MaxDurationMinutes) }
func (c TimeoutConfig) warning() time.Duration     { return minutes(c.WarningThresholdMinutes) }

func minutes(n int) time.Duration { return time.Duration(n) * time.Minute }

// TimeoutOverrides is a partial TimeoutConfig: nil fields are not set. It is
// an agent's session defaults and a request's timeoutConfig.
type TimeoutOverrides struct {
	TimeoutMinutes          *int  `json:"timeoutMinutes,omitempty"`
	AutoRenew               *bool `json:"autoRenew,omitempty"`
	MaxDurationMinutes      *int  `json:"maxDurationMinutes,omitempty"`
	WarningThresholdMinutes *int  `json:"warningThresholdMinutes,omitempty"`
}

// Validate rejects values no clamp can make sense of.
func (o TimeoutOverrides) Validate() error {
	for _, f := range []struct {
		name string
		v    *int
	}{
		{"timeoutMinutes", o.TimeoutMinutes},
		{"maxDurationMinutes", o.MaxDurationMinutes},
		{"warningThresholdMinutes", o.WarningThresholdMinutes},
	} {
		if f.v != nil && *f.v < 1 {
			return ErrValidation("Invalid timeout configuration: "+f.name+" must be a positive integer",
				Detail{"field", f.name})
		}
	}
	return nil
}

// over returns base with the fields set in o replaced.
func (o TimeoutOverrides) over(base TimeoutConfig) TimeoutConfig {
	if o.TimeoutMinutes != nil {
		base.TimeoutMinutes = *o.TimeoutMinutes
	}
	if o.AutoRenew != nil {
		base.AutoRenew = *o.AutoRenew
	}
	if o.MaxDurationMinutes != nil {
		base.MaxDurationMinutes = *o.MaxDurationMinutes
	}
	if o.WarningThresholdMinutes != nil {
		base.WarningThresholdMinutes = *o.WarningThresholdMinutes
	}
	return base
}

// SessionPolicy is the server-wide session configuration (SPEC §2), read
// from the SESSION_* environment variables.
type SessionPolicy struct {
	DefaultTimeoutMinutes   int
	MinTimeoutMinutes       int
	MaxTimeoutMinutes       int
	MaxDurationMinutes      int
	WarningThresholdMinutes int
}

// DefaultSessionPolicy is the reference system's defaults: 30 / 5 / 1440 / 720 / 5.
func DefaultSessionPolicy() SessionPolicy {
	return SessionPolicy{
		DefaultTimeoutMinutes:   30,
		MinTimeoutMinutes:       5,
		MaxTimeoutMinutes:       1440,
		MaxDurationMinutes:      720,
		WarningThresholdMinutes: 5,
	}
}

// Resolve builds a session's config: the global defaults, overlaid by each
// layer in turn (agent defaults, then the request), then clamped (SPEC §3):
// timeout into [min, max], max duration into [timeout, 2×max], warning
// threshold into [1, timeout].
func (p SessionPolicy) Resolve(layers ...TimeoutOverrides) TimeoutConfig {
	cfg := TimeoutConfig{
		TimeoutMinutes:          p.DefaultTimeoutMinutes,
		AutoRenew:               true,
		MaxDurationMinutes:      p.MaxDurationMinutes,
		WarningThresholdMinutes: p.WarningThresholdMinutes,
	}
	for _, l := range layers {
		cfg = l.over(cfg)
	}
	return p.clamp(cfg)
}

// Update merges o over the session's current config. Unlike Resolve it
// rejects an out-of-range timeout instead of clamping it (SPEC §3).
func (p SessionPolicy) Update(current TimeoutConfig, o TimeoutOverrides) (TimeoutConfig, error) {
	if err := o.Validate(); err != nil {
		return TimeoutConfig{}, err
	}
	if t := o.TimeoutMinutes; t != nil && (*t < p.MinTimeoutMinutes || *t > p.MaxTimeoutMinutes) {
		return TimeoutConfig{}, ErrValidation(timeoutRangeMessage(p), Detail{"timeoutMinutes", *t})
	}
	return p.clamp(o.over(current)), nil
}

func timeoutRangeMessage(p SessionPolicy) string {
	return "Invalid timeout configuration: Timeout must be between " +
		itoa(p.MinTimeoutMinutes) + " and " + itoa(p.MaxTimeoutMinutes) + " minutes"
}

func (p SessionPolicy) clamp(c TimeoutConfig) TimeoutConfig {
	c.TimeoutMinutes = clamp(c.TimeoutMinutes, p.MinTimeoutMinutes, p.MaxTimeoutMinutes)
	c.MaxDurationMinutes = clamp(c.MaxDurationMinutes, c.TimeoutMinutes, 2*p.MaxTimeoutMinutes)
	c.WarningThresholdMinutes = clamp(c.WarningThresholdMinutes, 1, c.TimeoutMinutes)
	return c
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }
