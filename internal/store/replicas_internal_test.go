package store

import (
	"context"
	"log/slog"
	"testing"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"sessionhub/models"
)

func TestParseLSN(t *testing.T) {
	for _, tc := range []struct {
		text string
		want uint64
		ok   bool
	}{
		{"0/0", 0, true},
		{"0/16B3748", 0x16B3748, true},
		{"16/B374D848", 0x16_B374D848, true},
		{"FFFFFFFF/FFFFFFFF", 1<<64 - 1, true},
		{"", 0, false},
		{"16B374D848", 0, false},
		{"1/2/3", 0, false},
		{"G/0", 0, false},
		{"1/100000000", 0, false},
	} {
		got, err := parseLSN(tc.text)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseLSN(%q) = %#x, %v; want %#x, ok %v", tc.text, got, err, tc.want, tc.ok)
		}
	}
}

// TestChooseStandby: which standby, if any, may serve a read.
func TestChooseStandby(t *testing.T) {
	now := time.Now()
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	caller := func(name string) context.Context {
		return models.WithPrincipal(context.Background(), models.Principal{Scope: name, Caller: name})
	}
	type sb struct {
		up     bool
		synced time.Time
	}
	tests := []struct {
		name      string
		standbys  []sb
		lastWrite map[string]time.Time // by caller
		forgotten time.Time
		ctx       context.Context
		want      int // index of the chosen standby, -1 for the primary
	}{
		{"fresh standby, caller never wrote", []sb{{true, ago(10 * time.Millisecond)}}, nil, time.Time{}, caller("a"), 0},
		{"standby down", []sb{{false, ago(10 * time.Millisecond)}}, nil, time.Time{}, caller("a"), -1},
		{"standby never synced", []sb{{true, time.Time{}}}, nil, time.Time{}, caller("a"), -1},
		{"standby staler than the bound", []sb{{true, ago(time.Second)}}, nil, time.Time{}, caller("a"), -1},
		{"caller wrote after the standby's sample", []sb{{true, ago(10 * time.Millisecond)}}, map[string]time.Time{"a": ago(5 * time.Millisecond)}, time.Time{}, caller("a"), -1},
		{"another caller wrote after it", []sb{{true, ago(10 * time.Millisecond)}}, map[string]time.Time{"b": ago(5 * time.Millisecond)}, time.Time{}, caller("a"), 0},
		{"caller wrote before the standby's sample", []sb{{true, ago(10 * time.Millisecond)}}, map[string]time.Time{"a": ago(20 * time.Millisecond)}, time.Time{}, caller("a"), 0},
		{"a forgotten caller counts as the newest forgotten write", []sb{{true, ago(10 * time.Millisecond)}}, nil, ago(5 * time.Millisecond), caller("a"), -1},
		{"reads marked latest", []sb{{true, ago(10 * time.Millisecond)}}, nil, time.Time{}, models.WithLatestReads(caller("a")), -1},
		{"only the second is fresh enough", []sb{{true, ago(30 * time.Millisecond)}, {true, ago(time.Millisecond)}}, map[string]time.Time{"a": ago(20 * time.Millisecond)}, time.Time{}, caller("a"), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			writes, _ := lru.New[string, time.Time](10)
			for k, v := range tc.lastWrite {
				writes.Add(k, v)
			}
			r := &replicaSet{maxLag: 250 * time.Millisecond, writes: writes, forgotten: tc.forgotten, log: slog.New(slog.DiscardHandler)}
			for _, s := range tc.standbys {
				r.standbys = append(r.standbys, &standby{up: s.up, synced: s.synced})
			}
			got := r.choose(tc.ctx)
			want := (*standby)(nil)
			if tc.want >= 0 {
				want = r.standbys[tc.want]
			}
			if got != want {
				t.Errorf("chose %p, want %p (index %d)", got, want, tc.want)
			}
		})
	}
	var none *replicaSet
	if none.choose(caller("a")) != nil {
		t.Error("no replicas configured, yet a standby was chosen")
	}
}
