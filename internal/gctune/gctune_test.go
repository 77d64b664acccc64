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
		{"exactly the headroom over four", 10 * MiB, 400},
		{"twenty MiB: the goal stays 40 MiB above", 20 * MiB, 200},
		{"forty MiB: GOGC 100", 40 * MiB, 100},
		{"sixty MiB", 60 * MiB, 66},
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
