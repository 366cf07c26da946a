package cli

import (
	"flag"
	"io"
	"time"

	"github.com/rs/zerolog"
)

// LogFlags are the log settings of every service: --log-format and
// --log-level.
type LogFlags struct {
	Format string
	Level  string
}

// DefaultLogFlags logs JSON at info level.
func DefaultLogFlags() LogFlags { return LogFlags{Format: "json", Level: "info"} }

// Register defines --log-format and --log-level on fs; their values are
// checked as they are set.
func (l *LogFlags) Register(fs *flag.FlagSet) {
	EnumVar(fs, &l.Format, "log-format", "log format: json or console", "json", "console")
	EnumVar(fs, &l.Level, "log-level", "log level: trace, debug, info, warn or error", "trace", "debug", "info", "warn", "error")
}

// Logger returns the logger the flags describe, writing to w, each line
// with the time and service.
func (l LogFlags) Logger(service string, w io.Writer) zerolog.Logger {
	if l.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	lvl, err := zerolog.ParseLevel(l.Level)
	if err != nil || l.Level == "" {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("service", service).Logger()
}
