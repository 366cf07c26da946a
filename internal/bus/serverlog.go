package bus

import (
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// serverLog adapts nats-server's logger to zerolog. The logger it is
// given names the component; serverLog adds no key of its own. It keeps
// the server's first fatal error (a port already taken), which the
// server only logs, so that StartEmbedded can return it.
type serverLog struct {
	l     zerolog.Logger
	once  sync.Once
	fatal chan struct{}
	err   error
}

func newServerLog(l zerolog.Logger) *serverLog {
	return &serverLog{l: l, fatal: make(chan struct{})}
}

func (s *serverLog) Noticef(f string, v ...any) { s.l.Info().Msgf(f, v...) }
func (s *serverLog) Warnf(f string, v ...any)   { s.l.Warn().Msgf(f, v...) }
func (s *serverLog) Errorf(f string, v ...any)  { s.l.Error().Msgf(f, v...) }
func (s *serverLog) Debugf(f string, v ...any)  { s.l.Debug().Msgf(f, v...) }
func (s *serverLog) Tracef(f string, v ...any)  { s.l.Trace().Msgf(f, v...) }

// Fatalf logs a fatal error of the server ("Error listening on port:
// 127.0.0.1:4222, \"listen tcp 127.0.0.1:4222: bind: address already in
// use\"") and keeps the first one.
func (s *serverLog) Fatalf(f string, v ...any) {
	s.l.Error().Msgf(f, v...)
	s.once.Do(func() {
		s.err = fmt.Errorf(f, v...)
		for _, a := range v {
			if err, ok := a.(error); ok {
				s.err = err // the cause itself: "listen tcp ...: bind: address already in use"
				break
			}
		}
		close(s.fatal)
	})
}

// waitReady waits until srv accepts connections, at most d; it returns at
// once, with the server's error as the cause, when the server failed.
func (s *serverLog) waitReady(srv *server.Server, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		select {
		case <-s.fatal:
			return fmt.Errorf("not started: %w", s.err)
		default:
		}
		if srv.ReadyForConnections(100 * time.Millisecond) {
			return nil
		}
		if time.Now().After(deadline) {
			select {
			case <-s.fatal:
				return fmt.Errorf("not started: %w", s.err)
			default:
			}
			return fmt.Errorf("not ready after %v", d)
		}
	}
}
