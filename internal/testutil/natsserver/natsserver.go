// Package natsserver runs a real NATS server inside a test process, embedded
// from nats-server. Tests only: the sessionhub binary must never import it
// (e2e/nats_test.go checks).
package natsserver

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is one embedded NATS server that can be stopped and started again
// on the same port, as a restarted NATS would be.
type Server struct {
	tb   testing.TB
	opts server.Options
	srv  *server.Server
}

// Option changes the server's configuration.
type Option func(*server.Options)

// MaxPayload lowers the largest message the server accepts (1 MiB by default).
func MaxPayload(bytes int32) Option { return func(o *server.Options) { o.MaxPayload = bytes } }

// User makes the server accept only this user.
func User(name, password string) Option {
	return func(o *server.Options) { o.Username, o.Password = name, password }
}

// Start runs a NATS server on a free loopback port, stopped when the test
// ends.
func Start(tb testing.TB, options ...Option) *Server {
	tb.Helper()
	s := &Server{tb: tb, opts: server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true}}
	for _, o := range options {
		o(&s.opts)
	}
	s.start()
	s.opts.Port = s.srv.Addr().(*net.TCPAddr).Port
	tb.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.tb.Helper()
	opts := s.opts
	srv, err := server.NewServer(&opts)
	if err != nil {
		s.tb.Fatalf("NATS server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		s.tb.Fatal("NATS server did not start")
	}
	s.srv = srv
}

// URL is where clients connect, also while the server is stopped.
func (s *Server) URL() string { return fmt.Sprintf("nats://%s:%d", s.opts.Host, s.opts.Port) }

// Stop shuts the server down, cutting every client off.
func (s *Server) Stop() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Restart starts a stopped server again on the same port.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	s.start()
}

// Messages counts the messages clients have published to the server so far.
func (s *Server) Messages() int64 {
	v, err := s.srv.Varz(nil)
	if err != nil {
		s.tb.Fatalf("NATS varz: %v", err)
	}
	return v.InMsgs
}

// Subscriptions counts the subscriptions the server holds.
func (s *Server) Subscriptions() int { return int(s.srv.NumSubscriptions()) }
