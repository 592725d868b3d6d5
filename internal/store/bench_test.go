package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stackhub/stackhub/internal/store"
	"github.com/stackhub/stackhub/internal/testutil"
)

// The benchmarks read a seeded database the way the GeekApk hot paths do: GET /app/<aid> (App), GET /app/all
// (AppIDs by updated desc) and GET /app/<aid>/comments (AppCommentIDs by ctime). Each runs serially and in
// parallel (the pool under contention, as the server sees it), on SQLite and, when STACKHUB_TEST_POSTGRES is set,
// on PostgreSQL:
//
//	go test -run '^$' -bench . -benchmem ./internal/store/
const (
	benchApps     = 1000
	benchComments = 20000
)

// seeded is one seeded store per engine, shared by every benchmark of the run.
type seeded struct {
	once sync.Once
	st   *store.Store
	apps []int64
	err  error
}

var (
	seededMu sync.Mutex
	seededBy = map[string]*seeded{}
)

// seedStore fills a fresh store of engine e with benchApps apps and benchComments comments (a fifth of them
// replies). The store lives until the test binary exits: it is opened with a benchmark-independent testing.TB.
func seedStore(b *testing.B, e testutil.Engine) (*store.Store, []int64) {
	b.Helper()
	seededMu.Lock()
	s := seededBy[e.Name]
	if s == nil {
		s = &seeded{}
		seededBy[e.Name] = s
	}
	seededMu.Unlock()
	s.once.Do(func() { s.st, s.apps, s.err = seed(context.Background(), e) })
	if s.err != nil {
		b.Fatal(s.err)
	}
	return s.st, s.apps
}

func seed(ctx context.Context, e testutil.Engine) (*store.Store, []int64, error) {
	st, err := store.Open(ctx, e.DSN(benchTB))
	if err != nil {
		return nil, nil, err
	}
	benchTB.Cleanup(func() { st.Close() })
	r := rand.New(rand.NewPCG(1, 2))
	const epoch = int64(1_700_000_000_000)
	var users, apps []int64
	err = st.Tx(ctx, func(q *store.Q) error {
		for i := range 200 {
			u := &store.User{SimpleName: fmt.Sprintf("user%d", i), Name: "User", CreatedAt: epoch, OnlineAt: epoch,
				Enabled: true}
			if err := q.CreateUser(ctx, u, "not-a-hash"); err != nil {
				return err
			}
			users = append(users, u.ID)
		}
		for i := range benchApps {
			pkg := fmt.Sprintf("org.bench.app%d", i)
			desc := "A benchmark app with a description of realistic length, about one hundred characters long."
			a := &store.App{Author: users[r.IntN(len(users))], Package: &pkg, Name: fmt.Sprintf("App %d", i),
				Desc: desc, Size: int64(r.IntN(1 << 24)), CreatedAt: epoch + int64(i)*1000,
				UpdatedAt: epoch + int64(r.IntN(1<<30))}
			if err := q.CreateApp(ctx, a); err != nil {
				return err
			}
			apps = append(apps, a.ID)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	perApp := map[int64][]int64{}
	for batch := 0; batch < benchComments; batch += 1000 {
		err = st.Tx(ctx, func(q *store.Q) error {
			for i := batch; i < batch+1000; i++ {
				// Half uniform, half on the first 1% of the apps, so some apps hold hundreds of comments.
				aid := apps[r.IntN(len(apps))]
				if i%2 == 1 {
					aid = apps[r.IntN(len(apps)/100)]
				}
				c := &store.Comment{Author: users[r.IntN(len(users))], App: aid, CreatedAt: epoch + int64(i)*10,
					Content: "A comment of about a hundred characters, which is what the load benchmark posts too."}
				if prev := perApp[aid]; len(prev) > 0 && i%5 == 0 {
					c.Reply = &prev[r.IntN(len(prev))]
				}
				if err := q.CreateComment(ctx, c); err != nil {
					return err
				}
				perApp[aid] = append(perApp[aid], c.ID)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return st, apps, nil
}

var benchDir string

func TestMain(m *testing.M) {
	var err error
	if benchDir, err = os.MkdirTemp("", "stackhub-store-bench-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	benchTB.cleanup()
	os.RemoveAll(benchDir)
	os.Exit(code)
}

// benchTB gives the seeded databases a lifetime of the whole test binary (testing.B cleans up per benchmark).
var benchTB = &lifetimeTB{}

type lifetimeTB struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
}

func (l *lifetimeTB) Helper()                   {}
func (l *lifetimeTB) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (l *lifetimeTB) Errorf(f string, a ...any) { fmt.Printf(f+"\n", a...) }
func (l *lifetimeTB) TempDir() string           { return benchDir }
func (l *lifetimeTB) Cleanup(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cleanups = append(l.cleanups, f)
}

func (l *lifetimeTB) cleanup() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.cleanups) - 1; i >= 0; i-- {
		l.cleanups[i]()
	}
}

func forEachBenchEngine(b *testing.B, fn func(b *testing.B, st *store.Store, apps []int64)) {
	for _, e := range testutil.Engines(b) {
		b.Run(e.Name, func(b *testing.B) {
			st, apps := seedStore(b, e)
			fn(b, st, apps)
		})
	}
}

// cpuTime is the user+system CPU time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds cpu-ns/op: the CPU time of this process (the store and its driver, and SQLite itself; not the
// PostgreSQL server) per operation. It is steadier than ns/op on a shared machine.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }
}

// serialAndParallel runs op once per iteration on one goroutine, then from GOMAXPROCS×8 goroutines. The context
// can be canceled, as an HTTP request's can: drivers watch such a context while a query runs.
func serialAndParallel(b *testing.B, apps []int64, op func(ctx context.Context, aid int64) error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.Run("serial", func(b *testing.B) {
		r := rand.New(rand.NewPCG(3, 4))
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if err := op(ctx, apps[r.IntN(len(apps))]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8)
		defer reportCPU(b)()
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(rand.Uint64(), 4))
			for pb.Next() {
				if err := op(ctx, apps[r.IntN(len(apps))]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkAppByID is the store side of GET /app/<aid>.
func BenchmarkAppByID(b *testing.B) {
	forEachBenchEngine(b, func(b *testing.B, st *store.Store, apps []int64) {
		serialAndParallel(b, apps, func(ctx context.Context, aid int64) error {
			_, err := st.Q().App(ctx, aid)
			return err
		})
	})
}

// BenchmarkAppIDs is the store side of GET /app/all?max=20.
func BenchmarkAppIDs(b *testing.B) {
	forEachBenchEngine(b, func(b *testing.B, st *store.Store, apps []int64) {
		serialAndParallel(b, apps, func(ctx context.Context, _ int64) error {
			ids, err := st.Q().AppIDs(ctx, nil, store.Sort{Key: "updated", Desc: true}, store.Page{Limit: 20})
			if err == nil && len(ids) != 20 {
				err = fmt.Errorf("%d ids", len(ids))
			}
			return err
		})
	})
}

// BenchmarkAppCommentIDs is the store side of GET /app/<aid>/comments?max=20 (the list query alone).
func BenchmarkAppCommentIDs(b *testing.B) {
	forEachBenchEngine(b, func(b *testing.B, st *store.Store, apps []int64) {
		serialAndParallel(b, apps, func(ctx context.Context, aid int64) error {
			_, err := st.Q().AppCommentIDs(ctx, aid, store.Sort{Key: "ctime"}, store.Page{Limit: 20})
			return err
		})
	})
}

// BenchmarkHottestAppCommentIDs lists the first page of the app with the most comments.
func BenchmarkHottestAppCommentIDs(b *testing.B) {
	forEachBenchEngine(b, func(b *testing.B, st *store.Store, apps []int64) {
		hot := apps[:benchApps/100]
		serialAndParallel(b, hot, func(ctx context.Context, aid int64) error {
			_, err := st.Q().AppCommentIDs(ctx, aid, store.Sort{Key: "ctime"}, store.Page{Limit: 20})
			return err
		})
	})
}

// BenchmarkCreateComment is the write path: one transaction inserting a comment and counting it on its app (the
// statements of a transaction go through the write pool's statement cache on SQLite). It runs last: it adds rows.
func BenchmarkCreateComment(b *testing.B) {
	forEachBenchEngine(b, func(b *testing.B, st *store.Store, apps []int64) {
		ctx := context.Background()
		r := rand.New(rand.NewPCG(5, 6))
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			err := st.Tx(ctx, func(q *store.Q) error {
				return q.CreateComment(ctx, &store.Comment{Author: 1, App: apps[r.IntN(len(apps))], Content: "x",
					CreatedAt: 1})
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
