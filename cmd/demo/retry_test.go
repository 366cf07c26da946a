package main

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The demo's waits are bounded by their deadline: one already past fails
// at once, after one try, and none waits for ever (a duration of zero or
// less once meant "no limit").
func TestDemoRetryDeadline(t *testing.T) {
	notYet := errors.New("not yet")
	t.Run("past deadline fails at once", func(t *testing.T) {
		calls := 0
		start := time.Now()
		err := retry(context.Background(), time.Now().Add(-time.Second), func() error { calls++; return notYet })
		if !errors.Is(err, notYet) || calls != 1 || time.Since(start) > time.Second {
			t.Fatalf("err %v after %d calls and %v", err, calls, time.Since(start))
		}
	})
	t.Run("past deadline, op succeeds", func(t *testing.T) {
		if err := retry(context.Background(), time.Now(), func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("gives up at the deadline with op's error", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			done <- retry(context.Background(), time.Now().Add(300*time.Millisecond), func() error { return notYet })
		}()
		select {
		case err := <-done:
			if !errors.Is(err, notYet) {
				t.Fatalf("err %v, want op's last error", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("retry outlived its deadline")
		}
	})
	t.Run("retries until success", func(t *testing.T) {
		calls := 0
		err := retry(context.Background(), time.Now().Add(10*time.Second), func() error {
			if calls++; calls < 3 {
				return notYet
			}
			return nil
		})
		if err != nil || calls != 3 {
			t.Fatalf("err %v after %d calls", err, calls)
		}
	})
}
