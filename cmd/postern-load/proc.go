package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ProcStatus is what the idle mode reads of a process from
// /proc/PID/status (proc(5)); sizes in KiB, as the kernel writes them.
type ProcStatus struct {
	RSS     uint64 // VmRSS: resident set size
	HWM     uint64 // VmHWM: its peak
	RSSAnon uint64 // RssAnon: resident anonymous memory (the Go heap and stacks)
	RSSFile uint64 // RssFile: resident file mappings (the binary's text)
	Threads int    // Threads
}

// readProcStatus reads /proc/PID/status.
func readProcStatus(pid int) (ProcStatus, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcStatus{}, fmt.Errorf("server memory: %w", err)
	}
	defer f.Close()
	st, err := parseProcStatus(f)
	if err != nil {
		return ProcStatus{}, fmt.Errorf("server memory: /proc/%d/status: %w", pid, err)
	}
	return st, nil
}

// parseProcStatus reads the lines "Name:\tvalue [kB]" of a status file
// and keeps the fields of ProcStatus. VmRSS is required (a kernel thread
// or a zombie has none); the others default to 0.
func parseProcStatus(r io.Reader) (ProcStatus, error) {
	var st ProcStatus
	haveRSS := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *uint64
		switch name {
		case "VmRSS":
			dst, haveRSS = &st.RSS, true
		case "VmHWM":
			dst = &st.HWM
		case "RssAnon":
			dst = &st.RSSAnon
		case "RssFile":
			dst = &st.RSSFile
		case "Threads":
			n, err := strconv.Atoi(strings.TrimSpace(value))
			if err != nil {
				return ProcStatus{}, fmt.Errorf("Threads %q: %w", strings.TrimSpace(value), err)
			}
			st.Threads = n
			continue
		default:
			continue
		}
		n, err := parseKB(value)
		if err != nil {
			return ProcStatus{}, fmt.Errorf("%s: %w", name, err)
		}
		*dst = n
	}
	if err := sc.Err(); err != nil {
		return ProcStatus{}, err
	}
	if !haveRSS {
		return ProcStatus{}, errors.New("no VmRSS line (a kernel thread, or a process that has exited?)")
	}
	return st, nil
}

// parseKB parses "  12345 kB".
func parseKB(v string) (uint64, error) {
	f := strings.Fields(v)
	if len(f) != 2 || f[1] != "kB" {
		return 0, fmt.Errorf("%q: not a size in kB", strings.TrimSpace(v))
	}
	n, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", f[0], err)
	}
	return n, nil
}

// raiseNoFile raises the process's RLIMIT_NOFILE to at least need and
// returns the soft limit it runs with.
func raiseNoFile(need uint64) (uint64, error) {
	var cur syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &cur); err != nil {
		return 0, fmt.Errorf("RLIMIT_NOFILE: %w", err)
	}
	want := planNoFile(cur, need)
	if want == cur {
		return cur.Cur, nil
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		return 0, fmt.Errorf("RLIMIT_NOFILE: raising to %d (hard limit %d): %w; raise it with ulimit -n, or ask for fewer sessions", want.Cur, cur.Max, err)
	}
	return want.Cur, nil
}

// planNoFile is the limit to set so that need descriptors fit: cur when
// they do; else the soft limit raised to need, and the hard limit with it
// when it is lower (which only a privileged process may do: Setrlimit
// then says so).
func planNoFile(cur syscall.Rlimit, need uint64) syscall.Rlimit {
	if cur.Cur >= need {
		return cur
	}
	return syscall.Rlimit{Cur: need, Max: max(cur.Max, need)}
}
