package models_test

import (
	"testing"

	"sessionhub/models"
)

func intp(n int) *int    { return &n }
func boolp(b bool) *bool { return &b }

func TestDefaultSessionPolicy(t *testing.T) {
	got := models.DefaultSessionPolicy()
	want := models.SessionPolicy{
		DefaultTimeoutMinutes:   30,
		MinTimeoutMinutes:       5,
		MaxTimeoutMinutes:       1440,
		MaxDurationMinutes:      720,
		WarningThresholdMinutes: 5,
	}
	if got != want {
		t.Errorf("DefaultSessionPolicy() = %+v, want %+v", got, want)
	}
}

func TestSessionPolicyResolve(t *testing.T) {
	def := models.DefaultSessionPolicy()
	small := models.SessionPolicy{
		DefaultTimeoutMinutes:   50,
		MinTimeoutMinutes:       10,
		MaxTimeoutMinutes:       100,
		MaxDurationMinutes:      720,
		WarningThresholdMinutes: 5,
	}
	tests := []struct {
		name   string
		policy models.SessionPolicy
		layers []models.TimeoutOverrides
		want   models.TimeoutConfig
	}{
		{
			name:   "no layers gives the global defaults",
			policy: def,
			want:   models.TimeoutConfig{TimeoutMinutes: 30, AutoRenew: true, MaxDurationMinutes: 720, WarningThresholdMinutes: 5},
		},
		{
			name:   "empty layers change nothing",
			policy: def,
			layers: []models.TimeoutOverrides{{}, {}},
			want:   models.TimeoutConfig{TimeoutMinutes: 30, AutoRenew: true, MaxDurationMinutes: 720, WarningThresholdMinutes: 5},
		},
		{
			name:   "agent layer overrides defaults",
			policy: def,
			layers: []models.TimeoutOverrides{
				{TimeoutMinutes: intp(60), AutoRenew: boolp(false), MaxDurationMinutes: intp(240), WarningThresholdMinutes: intp(10)},
			},
			want: models.TimeoutConfig{TimeoutMinutes: 60, AutoRenew: false, MaxDurationMinutes: 240, WarningThresholdMinutes: 10},
		},
		{
			name:   "request layer overrides agent layer",
			policy: def,
			layers: []models.TimeoutOverrides{
				{TimeoutMinutes: intp(60), AutoRenew: boolp(false), MaxDurationMinutes: intp(240), WarningThresholdMinutes: intp(10)},
				{TimeoutMinutes: intp(90), AutoRenew: boolp(true), MaxDurationMinutes: intp(300), WarningThresholdMinutes: intp(15)},
			},
			want: models.TimeoutConfig{TimeoutMinutes: 90, AutoRenew: true, MaxDurationMinutes: 300, WarningThresholdMinutes: 15},
		},
		{
			name:   "request fields that are absent keep the agent's",
			policy: def,
			layers: []models.TimeoutOverrides{
				{TimeoutMinutes: intp(60), AutoRenew: boolp(false), WarningThresholdMinutes: intp(10)},
				{MaxDurationMinutes: intp(300)},
			},
			want: models.TimeoutConfig{TimeoutMinutes: 60, AutoRenew: false, MaxDurationMinutes: 300, WarningThresholdMinutes: 10},
		},
		{
			name:   "request false autoRenew overrides agent true",
			policy: def,
			layers: []models.TimeoutOverrides{
				{AutoRenew: boolp(true)},
				{AutoRenew: boolp(false)},
			},
			want: models.TimeoutConfig{TimeoutMinutes: 30, AutoRenew: false, MaxDurationMinutes: 720, WarningThresholdMinutes: 5},
		},
		{
			name:   "timeout below min is clamped up to min",
			policy: def,
			layers: []models.TimeoutOverrides{{TimeoutMinutes: intp(1)}},
			want:   models.TimeoutConfig{TimeoutMinutes: 5, AutoRenew: true, MaxDurationMinutes: 720, WarningThresholdMinutes: 5},
		},
		{
			name:   "timeout at min is kept",
			policy: def,
			layers: []models.TimeoutOverrides{{TimeoutMinutes: intp(5)}},
			want:   models.TimeoutConfig{TimeoutMinutes: 5, AutoRenew: true, MaxDurationMinutes: 720, WarningThresholdMinutes: 5},
		},
		{
			name:   "timeout above max is clamped down to max and max duration follows it up",
			policy: def,
			layers: []models.TimeoutOverrides{{TimeoutMinutes: intp(5000)}},
			want:   models.TimeoutConfig{TimeoutMinutes: 1440, AutoRenew: true, MaxDurationMinutes: 1440, WarningThresholdMinutes: 5},
		},
		{
			name:   "agent timeout out of range is clamped even when request is silent",
			policy: def,
			layers: []models.TimeoutOverrides{{TimeoutMinutes: intp(2)}, {AutoRenew: boolp(false)}},
			want:   models.TimeoutConfig{TimeoutMinutes: 5, AutoRenew: false, MaxDurationMinutes: 720, WarningThresholdMinutes: 5},
		},
		{
			name:   "max duration below timeout is raised to timeout",
			policy: def,
			layers: []models.TimeoutOverrides{{TimeoutMinutes: intp(60), MaxDurationMinutes: intp(10)}},
			want:   models.TimeoutConfig{TimeoutMinutes: 60, AutoRenew: true, MaxDurationMinutes: 60, WarningThresholdMinutes: 5},
		},
		{
			name:   "max duration above 2x max timeout is lowered to 2x max",
			policy: def,
			layers: []models.TimeoutOverrides{{MaxDurationMinutes: intp(5000)}},
			want:   models.TimeoutConfig{TimeoutMinutes: 30, AutoRenew: true, MaxDurationMinutes: 2880, WarningThresholdMinutes: 5},
		},
		{
			name:   "max duration exactly 2x max timeout is kept",
			policy: def,
			layers: []models.TimeoutOverrides{{MaxDurationMinutes: intp(2880)}},
			want:   models.TimeoutConfig{TimeoutMinutes: 30, AutoRenew: true, MaxDurationMinutes: 2880, WarningThresholdMinutes: 5},
		},
		{
			name:   "warning above timeout is lowered to timeout",
			policy: def,
			layers: []models.TimeoutOverrides{{WarningThresholdMinutes: intp(100)}},
			want:   models.TimeoutConfig{TimeoutMinutes: 30, AutoRenew: true, MaxDurationMinutes: 720, WarningThresholdMinutes: 30},
		},
		{
			name:   "warning below 1 is raised to 1",
			policy: def,
			layers: []models.TimeoutOverrides{{WarningThresholdMinutes: intp(0)}},
			want:   models.TimeoutConfig{TimeoutMinutes: 30, AutoRenew: true, MaxDurationMinutes: 720, WarningThresholdMinutes: 1},
		},
		{
			name:   "warning is clamped against the clamped timeout",
			policy: def,
			layers: []models.TimeoutOverrides{{TimeoutMinutes: intp(1), WarningThresholdMinutes: intp(30)}},
			want:   models.TimeoutConfig{TimeoutMinutes: 5, AutoRenew: true, MaxDurationMinutes: 720, WarningThresholdMinutes: 5},
		},
		{
			name:   "custom policy: defaults come from the policy and 2x max uses its max",
			policy: small,
			want:   models.TimeoutConfig{TimeoutMinutes: 50, AutoRenew: true, MaxDurationMinutes: 200, WarningThresholdMinutes: 5},
		},
		{
			name:   "custom policy: bounds come from the policy",
			policy: small,
			layers: []models.TimeoutOverrides{{TimeoutMinutes: intp(5)}},
			want:   models.TimeoutConfig{TimeoutMinutes: 10, AutoRenew: true, MaxDurationMinutes: 200, WarningThresholdMinutes: 5},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := tc.policy.Resolve(tc.layers...), tc.want; got != want {
				t.Errorf("Resolve() = %+v, want %+v", got, want)
			}
		})
	}
}

func TestSessionPolicyUpdate(t *testing.T) {
	p := models.DefaultSessionPolicy()
	current := models.TimeoutConfig{TimeoutMinutes: 60, AutoRenew: true, MaxDurationMinutes: 240, WarningThresholdMinutes: 10}
	tests := []struct {
		name     string
		current  models.TimeoutConfig
		o        models.TimeoutOverrides
		want     models.TimeoutConfig
		wantCode models.Code // "" = success
	}{
		{
			name:    "empty update keeps the current config",
			current: current,
			want:    current,
		},
		{
			name:    "only timeout changes timeout; other fields keep current values, not defaults",
			current: current,
			o:       models.TimeoutOverrides{TimeoutMinutes: intp(90)},
			want:    models.TimeoutConfig{TimeoutMinutes: 90, AutoRenew: true, MaxDurationMinutes: 240, WarningThresholdMinutes: 10},
		},
		{
			name:    "only autoRenew changes autoRenew",
			current: current,
			o:       models.TimeoutOverrides{AutoRenew: boolp(false)},
			want:    models.TimeoutConfig{TimeoutMinutes: 60, AutoRenew: false, MaxDurationMinutes: 240, WarningThresholdMinutes: 10},
		},
		{
			name:    "only max duration changes max duration",
			current: current,
			o:       models.TimeoutOverrides{MaxDurationMinutes: intp(600)},
			want:    models.TimeoutConfig{TimeoutMinutes: 60, AutoRenew: true, MaxDurationMinutes: 600, WarningThresholdMinutes: 10},
		},
		{
			name:    "all fields replaced",
			current: current,
			o:       models.TimeoutOverrides{TimeoutMinutes: intp(15), AutoRenew: boolp(false), MaxDurationMinutes: intp(45), WarningThresholdMinutes: intp(3)},
			want:    models.TimeoutConfig{TimeoutMinutes: 15, AutoRenew: false, MaxDurationMinutes: 45, WarningThresholdMinutes: 3},
		},
		{
			name:    "timeout at min accepted",
			current: current,
			o:       models.TimeoutOverrides{TimeoutMinutes: intp(5)},
			want:    models.TimeoutConfig{TimeoutMinutes: 5, AutoRenew: true, MaxDurationMinutes: 240, WarningThresholdMinutes: 5},
		},
		{
			name:    "timeout at max accepted; max duration raised to it",
			current: current,
			o:       models.TimeoutOverrides{TimeoutMinutes: intp(1440)},
			want:    models.TimeoutConfig{TimeoutMinutes: 1440, AutoRenew: true, MaxDurationMinutes: 1440, WarningThresholdMinutes: 10},
		},
		{
			name:     "timeout below min rejected, not clamped",
			current:  current,
			o:        models.TimeoutOverrides{TimeoutMinutes: intp(4)},
			wantCode: models.CodeValidation,
		},
		{
			name:     "timeout above max rejected, not clamped",
			current:  current,
			o:        models.TimeoutOverrides{TimeoutMinutes: intp(1441)},
			wantCode: models.CodeValidation,
		},
		{
			name:     "zero timeout rejected",
			current:  current,
			o:        models.TimeoutOverrides{TimeoutMinutes: intp(0)},
			wantCode: models.CodeValidation,
		},
		{
			name:     "negative max duration rejected",
			current:  current,
			o:        models.TimeoutOverrides{MaxDurationMinutes: intp(-1)},
			wantCode: models.CodeValidation,
		},
		{
			name:     "zero warning threshold rejected",
			current:  current,
			o:        models.TimeoutOverrides{WarningThresholdMinutes: intp(0)},
			wantCode: models.CodeValidation,
		},
		{
			name:     "invalid field rejects the whole update even with a valid timeout",
			current:  current,
			o:        models.TimeoutOverrides{TimeoutMinutes: intp(60), MaxDurationMinutes: intp(0)},
			wantCode: models.CodeValidation,
		},
		{
			name:    "warning above the new timeout is clamped to it",
			current: current,
			o:       models.TimeoutOverrides{TimeoutMinutes: intp(8)},
			want:    models.TimeoutConfig{TimeoutMinutes: 8, AutoRenew: true, MaxDurationMinutes: 240, WarningThresholdMinutes: 8},
		},
		{
			name:    "max duration above 2x max is clamped",
			current: current,
			o:       models.TimeoutOverrides{MaxDurationMinutes: intp(10000)},
			want:    models.TimeoutConfig{TimeoutMinutes: 60, AutoRenew: true, MaxDurationMinutes: 2880, WarningThresholdMinutes: 10},
		},
		{
			name:    "max duration below current timeout is raised to it",
			current: current,
			o:       models.TimeoutOverrides{MaxDurationMinutes: intp(20)},
			want:    models.TimeoutConfig{TimeoutMinutes: 60, AutoRenew: true, MaxDurationMinutes: 60, WarningThresholdMinutes: 10},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Update(tc.current, tc.o)
			if tc.wantCode != "" {
				if err == nil {
					t.Fatalf("Update() = %+v, nil; want error %v", got, tc.wantCode)
				}
				if got, want := models.ErrorCode(err), tc.wantCode; got != want {
					t.Errorf("ErrorCode = %v, want %v (err %v)", got, want, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Update(): unexpected error %v", err)
			}
			if got, want := got, tc.want; got != want {
				t.Errorf("Update() = %+v, want %+v", got, want)
			}
		})
	}
}

func TestTimeoutOverridesValidate(t *testing.T) {
	tests := []struct {
		name      string
		o         models.TimeoutOverrides
		wantErr   bool
		wantField string
	}{
		{name: "all absent", o: models.TimeoutOverrides{}},
		{name: "all positive", o: models.TimeoutOverrides{TimeoutMinutes: intp(1), AutoRenew: boolp(false), MaxDurationMinutes: intp(1), WarningThresholdMinutes: intp(1)}},
		{name: "large values are not this check's business", o: models.TimeoutOverrides{TimeoutMinutes: intp(1 << 20)}},
		{name: "zero timeout", o: models.TimeoutOverrides{TimeoutMinutes: intp(0)}, wantErr: true, wantField: "timeoutMinutes"},
		{name: "negative timeout", o: models.TimeoutOverrides{TimeoutMinutes: intp(-30)}, wantErr: true, wantField: "timeoutMinutes"},
		{name: "zero max duration", o: models.TimeoutOverrides{MaxDurationMinutes: intp(0)}, wantErr: true, wantField: "maxDurationMinutes"},
		{name: "negative max duration", o: models.TimeoutOverrides{MaxDurationMinutes: intp(-1)}, wantErr: true, wantField: "maxDurationMinutes"},
		{name: "zero warning", o: models.TimeoutOverrides{WarningThresholdMinutes: intp(0)}, wantErr: true, wantField: "warningThresholdMinutes"},
		{name: "negative warning", o: models.TimeoutOverrides{WarningThresholdMinutes: intp(-5)}, wantErr: true, wantField: "warningThresholdMinutes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if got, want := models.ErrorCode(err), models.CodeValidation; got != want {
				t.Fatalf("ErrorCode = %v, want %v (err %v)", got, want, err)
			}
			d := models.AsError(err).Details.Map()
			if got, want := d["field"], any(tc.wantField); got != want {
				t.Errorf("details.field = %v, want %v", got, want)
			}
		})
	}
}
