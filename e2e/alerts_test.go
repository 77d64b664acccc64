package e2e

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// alertRules is deploy/prometheus/alerts.yml as far as the tests read it.
type alertRules struct {
	Groups []struct {
		Name  string
		Rules []alertRule
	}
}

type alertRule struct {
	Alert       string
	Record      string
	Expr        string
	For         string
	Labels      map[string]string
	Annotations map[string]string
}

func readAlertRules(t *testing.T) []alertRule {
	t.Helper()
	raw, err := os.ReadFile(repoPath("deploy", "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var file alertRules
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	var rules []alertRule
	for _, g := range file.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatal("alerts.yml holds no rules")
	}
	return rules
}

// TestAlertRules runs Prometheus's own checker and rule unit tests
// (promtool, Debian's prometheus package) on deploy/prometheus/alerts.yml,
// and checks that the unit tests fire and clear every alert and that every
// alert has a summary and a runbook entry in the README.
func TestAlertRules(t *testing.T) {
	promtool := debianTool(t, "promtool", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", "alerts.yml"},
		{"test", "rules", "alerts_test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = repoPath("deploy", "prometheus")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
	}

	rules := readAlertRules(t)
	raw, err := os.ReadFile(repoPath("deploy", "prometheus", "alerts_test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		Tests []struct {
			Name          string
			AlertRuleTest []struct {
				EvalTime  string           `yaml:"eval_time"`
				Alertname string           `yaml:"alertname"`
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		}
	}
	if err := yaml.Unmarshal(raw, &tests); err != nil {
		t.Fatalf("alerts_test.yml: %v", err)
	}
	fired, cleared := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		firedHere := map[string]bool{}
		for _, at := range tc.AlertRuleTest {
			if len(at.ExpAlerts) > 0 {
				fired[at.Alertname], firedHere[at.Alertname] = true, true
			} else if firedHere[at.Alertname] {
				cleared[at.Alertname] = true // after firing, in the same test
			}
		}
	}
	readme, err := os.ReadFile(repoPath("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	runbooks := string(readme)
	if i := strings.Index(runbooks, "\n### Alerts"); i >= 0 {
		runbooks = runbooks[i:]
	} else {
		t.Error("README has no ### Alerts section")
	}
	for _, r := range rules {
		if r.Alert == "" {
			continue
		}
		if !fired[r.Alert] || !cleared[r.Alert] {
			t.Errorf("alert %s: alerts_test.yml must fire it and then clear it (fired %v, cleared %v)", r.Alert, fired[r.Alert], cleared[r.Alert])
		}
		if r.Annotations["summary"] == "" || r.Annotations["runbook"] == "" {
			t.Errorf("alert %s needs a summary and a runbook annotation", r.Alert)
		}
		if !slices.Contains([]string{"page", "ticket"}, r.Labels["severity"]) {
			t.Errorf("alert %s: severity %q, want page or ticket", r.Alert, r.Labels["severity"])
		}
		entry := strings.TrimPrefix(r.Annotations["runbook"], "README.md#alerts: ")
		if !regexp.MustCompile(`(?m)^\| ` + "`" + regexp.QuoteMeta(entry) + "`").MatchString(runbooks) {
			t.Errorf("alert %s: the README's Alerts table has no runbook row for %s", r.Alert, entry)
		}
	}
}
