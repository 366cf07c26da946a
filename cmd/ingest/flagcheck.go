package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/cspwatch/cspwatch/internal/cli"
)

// checkFlags checks, where the flags are known, the values the stream and
// ingest packages would refuse without naming the flag, so that each error
// says which flag and what it wants; their Validate stays as defence.
func (c *serveConfig) checkFlags() error {
	s, in := c.Stream, c.Ingest
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	return cli.CheckRules(nil,
		cli.Rule{Flag: "stream-replicas", OK: s.Replicas >= 1 && s.Replicas <= 5, Want: "an integer from 1 to 5 (3 in a NATS cluster)", Value: strconv.Itoa(s.Replicas)},
		cli.Rule{Flag: "stream-max-age", OK: s.MaxAge >= 0, Want: "a duration of 0 (unlimited) or more such as 168h", Value: s.MaxAge.String()},
		cli.Rule{Flag: "stream-max-bytes", OK: s.MaxBytes == -1 || s.MaxBytes > 0, Want: "-1 (unlimited) or a positive number of bytes", Value: i64(s.MaxBytes)},
		cli.Rule{Flag: "stream-duplicates", OK: s.Duplicates > 0, Want: "a duration above 0 such as 2h", Value: s.Duplicates.String()},
		cli.Rule{Flag: "stream-duplicates", OK: s.MaxAge == 0 || s.Duplicates <= s.MaxAge, Want: fmt.Sprintf("a duration of at most --stream-max-age (%v)", s.MaxAge), Value: s.Duplicates.String()},
		cli.Rule{Flag: "max-body", OK: in.MaxBodyBytes > 0, Want: "a positive number of bytes such as 1048576", Value: i64(in.MaxBodyBytes)},
		cli.Rule{Flag: "max-decompressed", OK: in.MaxDecompressedBytes >= in.MaxBodyBytes, Want: fmt.Sprintf("a number of bytes of at least --max-body (%d)", in.MaxBodyBytes), Value: i64(in.MaxDecompressedBytes)},
		cli.Rule{Flag: "max-decompressed", OK: in.MaxDecompressedBytes <= 1<<30, Want: "at most 1073741824 bytes (1 GiB)", Value: i64(in.MaxDecompressedBytes)},
		cli.Rule{Flag: "signature-tolerance", OK: in.Tolerance > 0, Want: "a duration above 0 such as 5m", Value: in.Tolerance.String()},
		cli.Rule{Flag: "publish-timeout", OK: in.PublishTimeout > 0, Want: "a duration above 0 such as 5s", Value: in.PublishTimeout.String()},
		cli.Rule{Flag: "max-pending", OK: in.MaxPending > 0, Want: "a positive integer", Value: strconv.Itoa(in.MaxPending)},
		cli.Rule{Flag: "retry-after", OK: in.RetryAfter >= time.Second, Want: "a duration of 1s or more such as 5s", Value: in.RetryAfter.String()},
	)
}
