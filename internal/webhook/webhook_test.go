package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sessionhub/internal/webhook"
)

func TestSignAndVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"d1","type":"message.added"}`)
	header := webhook.Sign("s3cret-s3cret-s3cret", now, body)
	if !strings.HasPrefix(header, "t=1800000000,v1=") {
		t.Fatalf("header %q", header)
	}
	cases := []struct {
		name, secret, header string
		body                 []byte
		at                   time.Time
		want                 error
	}{
		{"valid", "s3cret-s3cret-s3cret", header, body, now, nil},
		{"valid within tolerance", "s3cret-s3cret-s3cret", header, body, now.Add(4 * time.Minute), nil},
		{"other secret", "another-secret-here", header, body, now, webhook.ErrBadSignature},
		{"changed body", "s3cret-s3cret-s3cret", header, []byte(`{"id":"d2"}`), now, webhook.ErrBadSignature},
		{"replayed later", "s3cret-s3cret-s3cret", header, body, now.Add(10 * time.Minute), webhook.ErrStale},
		{"no v1", "s3cret-s3cret-s3cret", "t=1800000000", body, now, webhook.ErrMalformed},
		{"garbage", "s3cret-s3cret-s3cret", "nonsense", body, now, webhook.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := webhook.Verify(tc.secret, tc.header, tc.body, tc.at, 5*time.Minute); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	cases := []struct {
		url          string
		allowPrivate bool
		ok           bool
	}{
		{"https://hooks.example.com/agent", false, true},
		{"http://203.0.113.7:8080/x", false, true},
		{"ftp://hooks.example.com/", false, false},
		{"/relative", false, false},
		{"https://user:pw@hooks.example.com/", false, false},
		{"http://127.0.0.1:9000/", false, false},
		{"http://localhost:9000/", false, false},
		{"http://10.1.2.3/", false, false},
		{"http://192.168.0.10/", false, false},
		{"http://169.254.169.254/latest/meta-data", false, false},
		{"http://[::1]/", false, false},
		{"http://[fe80::1]/", false, false},
		{"http://127.0.0.1:9000/", true, true},
	}
	for _, tc := range cases {
		if err := webhook.CheckURL(tc.url, tc.allowPrivate); (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q, %v) = %v", tc.url, tc.allowPrivate, err)
		}
	}
}

// A name that resolves to a private address is refused when dialled: the
// guard checks the address actually connected to, not the URL.
func TestPostRefusesPrivateTargetsAtDial(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for _, url := range []string{srv.URL, "http://localhost" + port} {
		err := webhook.NewClient(false).Post(context.Background(), url, "secret-secret-secret", "d1", "message.added", []byte(`{}`), time.Now())
		if !errors.Is(err, webhook.ErrPrivateTarget) {
			t.Errorf("POST %s: %v, want ErrPrivateTarget", url, err)
		}
	}
	if hits != 0 {
		t.Fatalf("the private receiver was reached %d times", hits)
	}
	// Allowed (WEBHOOK_ALLOW_PRIVATE=true), it is reached.
	if err := webhook.NewClient(true).Post(context.Background(), srv.URL, "secret-secret-secret", "d1", "message.added", []byte(`{}`), time.Now()); err != nil || hits != 1 {
		t.Fatalf("allowed POST: %v, %d hits", err, hits)
	}
}
