package gctune

import "testing"

func TestPercent(t *testing.T) {
	const MiB = 1 << 20
	cases := []struct {
		name string
		live uint64
		want int
	}{
		{"no heap yet: the highest", 0, 400},
		{"a small heap keeps the highest", 5 * MiB, 400},
		{"exactly the headroom over four", 8 * MiB, 400},
		{"sixteen MiB: the goal stays 32 MiB above", 16 * MiB, 200},
		{"thirty-two MiB: GOGC 100", 32 * MiB, 100},
		{"fifty MiB", 50 * MiB, 64},
		{"a large heap: never below the lowest", 400 * MiB, 50},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Default.Percent(c.live); got != c.want {
				t.Errorf("Percent(%d MiB) = %d, want %d", c.live/MiB, got, c.want)
			}
		})
	}
}
