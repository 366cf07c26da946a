package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// record is one key's entry in the shared key-value bucket: its latest
// transition, and the sinks that have not yet received it.
type record struct {
	Alert Alert `json:"alert"`
	// Pending are the names of the sinks still to deliver Alert to.
	Pending []string `json:"pending,omitempty"`
	// Claimer is the replica that claimed the transition (or took over its
	// delivery) at ClaimedAt.
	Claimer   string    `json:"claimer"`
	ClaimedAt time.Time `json:"claimed_at"`
}

// sharedState is the JetStream key-value bucket replicas coordinate through.
// Every write is conditional (create-if-absent or compare-and-set on the
// revision read), so of two replicas making the same transition one wins and
// the other learns it lost.
type sharedState struct {
	kv jetstream.KeyValue
}

// errLost reports a conditional write another replica got to first.
var errLost = errors.New("state changed by another replica")

// openState binds the bucket, creating it when absent. An existing bucket's
// settings are left as an operator may have changed them.
func openState(ctx context.Context, js jetstream.JetStream, cfg Config) (*sharedState, error) {
	kv, err := js.KeyValue(ctx, cfg.StateBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      cfg.StateBucket,
			Description: "cspwatch spike alert state shared by aggregator replicas",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.StateReplicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, cfg.StateBucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("alert state bucket %s: %w", cfg.StateBucket, err)
	}
	return &sharedState{kv: kv}, nil
}

// get returns key's record and revision; a nil record when there is none.
func (s *sharedState) get(ctx context.Context, key string) (*record, uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("alert state get: %w", err)
	}
	r, err := decodeRecord(e.Value())
	if err != nil {
		return nil, 0, fmt.Errorf("alert state %s: %w", key, err)
	}
	return r, e.Revision(), nil
}

func decodeRecord(b []byte) (*record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	r.Alert.key = keyFromAlert(&r.Alert)
	return &r, nil
}

// put writes r under key: created when rev is 0, else only over revision
// rev. errLost means the key was not in the state expected.
func (s *sharedState) put(ctx context.Context, key string, r *record, rev uint64) (uint64, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("alert state encode: %w", err)
	}
	var n uint64
	if rev == 0 {
		n, err = s.kv.Create(ctx, key, b)
	} else {
		n, err = s.kv.Update(ctx, key, b, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return 0, errLost
	}
	if err != nil {
		return 0, fmt.Errorf("alert state put: %w", err)
	}
	return n, nil
}

// purge removes key if it is still at revision rev.
func (s *sharedState) purge(ctx context.Context, key string, rev uint64) error {
	err := s.kv.Purge(ctx, key, jetstream.LastRevision(rev))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return errLost
	}
	if err != nil {
		return fmt.Errorf("alert state purge: %w", err)
	}
	return nil
}

type entry struct {
	key string
	rec *record
	rev uint64
}

// all returns every record, read with one ordered watch. Its cost grows
// with the number of keys, which is the alerts open or resolved within the
// retention.
func (s *sharedState) all(ctx context.Context) ([]entry, error) {
	w, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("alert state list: %w", err)
	}
	defer w.Stop()
	var out []entry
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("alert state list: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("alert state list: watcher closed")
			}
			if e == nil {
				return out, nil // all current values received
			}
			r, err := decodeRecord(e.Value())
			if err != nil {
				return nil, fmt.Errorf("alert state %s: %w", e.Key(), err)
			}
			out = append(out, entry{e.Key(), r, e.Revision()})
		}
	}
}
