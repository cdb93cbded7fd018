package temporalx

import (
	"fmt"

	"github.com/rs/zerolog"
	tlog "go.temporal.io/sdk/log"
)

// Logger adapts zerolog to the Temporal SDK's logger, so the SDK's own
// lines (and workflow.GetLogger / activity.GetLogger) land in the same
// structured log as ours.
type Logger struct {
	z zerolog.Logger
}

// NewLogger returns the SDK logger writing through z.
func NewLogger(z zerolog.Logger) *Logger {
	return &Logger{z: z.With().Str("component", "temporal").Logger()}
}

var (
	_ tlog.Logger          = (*Logger)(nil)
	_ tlog.WithLogger      = (*Logger)(nil)
	_ tlog.WithSkipCallers = (*Logger)(nil)
)

func (l *Logger) Debug(msg string, keyvals ...any) { l.log(l.z.Debug(), msg, keyvals) }
func (l *Logger) Info(msg string, keyvals ...any)  { l.log(l.z.Info(), msg, keyvals) }
func (l *Logger) Warn(msg string, keyvals ...any)  { l.log(l.z.Warn(), msg, keyvals) }
func (l *Logger) Error(msg string, keyvals ...any) { l.log(l.z.Error(), msg, keyvals) }

// With returns a logger that adds keyvals to every line.
func (l *Logger) With(keyvals ...any) tlog.Logger {
	return &Logger{z: l.z.With().Fields(pairs(keyvals)).Logger()}
}

// WithCallerSkip is accepted for the interface; zerolog here logs no caller.
func (l *Logger) WithCallerSkip(int) tlog.Logger { return l }

func (l *Logger) log(e *zerolog.Event, msg string, keyvals []any) {
	e.Fields(pairs(keyvals)).Msg(msg)
}

// pairs turns the SDK's alternating keys and values into a field map.
func pairs(keyvals []any) map[string]any {
	m := make(map[string]any, len(keyvals)/2)
	for i := 0; i < len(keyvals); i += 2 {
		key := fmt.Sprint(keyvals[i])
		if i+1 == len(keyvals) {
			m[key] = "(missing value)"
			break
		}
		v := keyvals[i+1]
		if err, ok := v.(error); ok {
			v = err.Error()
		}
		m[key] = v
	}
	return m
}
