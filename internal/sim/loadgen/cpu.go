package loadgen

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat CPU times; it
// is 100 on every architecture Go supports on Linux.
const clockTicks = 100

// ProcessCPU returns the user plus system CPU time process pid has used so
// far, from /proc (Linux only).
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("process cpu: %w", err)
	}
	// The command name may hold spaces; fields start after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("process cpu: unexpected /proc stat %q", b)
	}
	f := bytes.Fields(b[i+1:])
	// After ')': state(3) ... utime(14) stime(15), i.e. indexes 11 and 12.
	if len(f) < 13 {
		return 0, fmt.Errorf("process cpu: short /proc stat")
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("process cpu: bad /proc stat times")
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}
