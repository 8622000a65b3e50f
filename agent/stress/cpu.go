// Package stress consumes the pod's resources from the agent: CPU workers (each a goroutine
// locked to an OS thread, on an exact duty cycle measured in the thread's own CPU time) and
// memory (allocated and touched in a child process, so that the OOM killer's choice is seen
// and reported rather than taking the agent's serve process, which holds the other faults).
// Every stressor ends when stopped, when the agent ends, and — for the child — when its parent
// dies (PR_SET_PDEATHSIG, and a poll of its parent) or its own deadline passes.
package stress

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Period is a worker's duty cycle: within each, it runs for load × Period of CPU time, then
// sleeps the rest. Short enough to look steady to a 100 ms CFS period, long enough that the
// sleeps are not noise.
const Period = 20 * time.Millisecond

// threadWait is how long the calling thread has waited on a run queue (ready, not running), from
// /proc/thread-self/schedstat; ok is false where the kernel does not keep schedstats.
func threadWait() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/thread-self/schedstat")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(n), true
}

// threadCPU is the calling thread's CPU time.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

var (
	procsMu sync.Mutex
	extra   int // workers running in this process
	base    int
)

// reserve raises GOMAXPROCS by n while workers run, so that spinning workers never take the Ps
// the serve process needs to answer (a revert must never wait for a stressor).
func reserve(n int) {
	procsMu.Lock()
	defer procsMu.Unlock()
	if extra == 0 {
		base = runtime.GOMAXPROCS(0)
	}
	extra += n
	runtime.GOMAXPROCS(base + extra)
}

func release(n int) {
	procsMu.Lock()
	defer procsMu.Unlock()
	extra -= n
	if extra <= 0 {
		extra = 0
		runtime.GOMAXPROCS(base)
	}
}

// CPU is a set of running workers.
type CPU struct {
	Workers  int
	Load     float64 // percent of one CPU per worker
	stop     chan struct{}
	done     sync.WaitGroup
	start    time.Time
	cpu      []atomic.Int64 // each worker's CPU time so far, ns
	tids     []atomic.Int64
	stopped  atomic.Bool
	ended    atomic.Int64 // when the last worker stopped, unix ns
	finished chan struct{}
	running  []atomic.Bool
	waited   []atomic.Int64 // each worker's run-queue wait so far, ns
	noWait   atomic.Bool    // a worker could not read its schedstat
}

// StartCPU starts the workers; they run until Stop.
func StartCPU(workers int, load float64) *CPU {
	c := &CPU{Workers: workers, Load: load, stop: make(chan struct{}), start: time.Now(),
		cpu: make([]atomic.Int64, workers), tids: make([]atomic.Int64, workers),
		finished: make(chan struct{}), running: make([]atomic.Bool, workers), waited: make([]atomic.Int64, workers)}
	reserve(workers)
	ready := make(chan struct{}, workers)
	for i := 0; i < workers; i++ {
		c.done.Add(1)
		go c.worker(i, ready)
	}
	for i := 0; i < workers; i++ {
		<-ready
	}
	return c
}

func (c *CPU) worker(i int, ready chan<- struct{}) {
	c.running[i].Store(true)
	defer c.done.Done()
	defer c.running[i].Store(false)
	// never unlocked: when this goroutine returns its thread exits with it
	runtime.LockOSThread()
	c.tids[i].Store(int64(unix.Gettid()))
	t0 := threadCPU()
	w0, ok := threadWait()
	if !ok {
		c.noWait.Store(true)
	}
	periods := 0
	noteWait := func() {
		if w, ok := threadWait(); ok {
			c.waited[i].Store(int64(w - w0))
		}
	}
	defer noteWait()
	ready <- struct{}{}
	share := time.Duration(float64(Period) * c.Load / 100)
	var debt time.Duration
	next := time.Now()
	for {
		periodEnd := next.Add(Period)
		want := share + debt
		from := threadCPU()
		for {
			spin()
			used := threadCPU() - from
			if used >= want || !time.Now().Before(periodEnd) && c.Load < 100 {
				// what the period could not give (throttled, or the CPU busy elsewhere) is owed
				// to the next one, but never more than a period: under a CPU limit the debt
				// could otherwise turn any load into 100%
				debt = want - used
				if debt < 0 {
					debt = 0
				}
				if debt > Period {
					debt = Period
				}
				break
			}
			if c.stopped.Load() {
				break
			}
		}
		c.cpu[i].Store(int64(threadCPU() - t0))
		if periods++; periods%10 == 0 {
			noteWait()
		}
		if c.stopped.Load() {
			return
		}
		next = periodEnd
		if c.Load >= 100 {
			continue
		}
		wait := time.Until(next)
		if wait <= 0 {
			next = time.Now()
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-c.stop:
			t.Stop()
			c.cpu[i].Store(int64(threadCPU() - t0))
			return
		case <-t.C:
		}
	}
}

var sink atomic.Uint64

// spin burns a few microseconds of CPU.
func spin() {
	x := sink.Load() | 1
	for j := 0; j < 2000; j++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	sink.Store(x)
}

// Waited is how long the workers were ready but waited for a CPU; ok is false where unknown.
func (c *CPU) Waited() (time.Duration, bool) {
	if c.noWait.Load() {
		return 0, false
	}
	var sum int64
	for i := range c.waited {
		sum += c.waited[i].Load()
	}
	return time.Duration(sum), true
}

// TIDs are the workers' threads (0 for one not started yet).
func (c *CPU) TIDs() []int {
	out := make([]int, len(c.tids))
	for i := range c.tids {
		out[i] = int(c.tids[i].Load())
	}
	return out
}

// Used is the workers' CPU time so far (updated at the end of every period).
func (c *CPU) Used() time.Duration {
	var sum int64
	for i := range c.cpu {
		sum += c.cpu[i].Load()
	}
	return time.Duration(sum)
}

// Elapsed is the workers' wall time: until now, or until they stopped.
func (c *CPU) Elapsed() time.Duration {
	if end := c.ended.Load(); end != 0 {
		return time.Unix(0, end).Sub(c.start)
	}
	return time.Since(c.start)
}

// Achieved is the load the workers got, percent of one CPU per worker.
func (c *CPU) Achieved() float64 {
	el := c.Elapsed()
	if el <= 0 || c.Workers == 0 {
		return 0
	}
	return 100 * float64(c.Used()) / float64(el) / float64(c.Workers)
}

// Stop ends the workers and waits for them (at most `within`); it says which have not ended.
// A worker has ended when its goroutine has returned: its thread then exits with it (or, when
// the runtime had put it on the main thread, which never exits, idles there).
func (c *CPU) Stop(within time.Duration) (left []int) {
	if c.stopped.CompareAndSwap(false, true) {
		close(c.stop)
		go func() {
			c.done.Wait()
			c.ended.Store(time.Now().UnixNano())
			release(c.Workers)
			close(c.finished)
		}()
	}
	select {
	case <-c.finished:
		return nil
	default:
	}
	select {
	case <-c.finished:
		return nil
	case <-time.After(within):
	}
	for i := range c.running {
		if c.running[i].Load() {
			left = append(left, int(c.tids[i].Load()))
		}
	}
	return left
}
