package ingest

import "time"

// SetClock replaces the server's clock, for signature windows in tests.
func (s *Server) SetClock(now func() time.Time) { s.now = now }
