// prog_gocontend.go — a Go program that writes Go's own CPU, mutex and block profiles of one
// run, for top_go.t: four goroutines take turns on one sync.Mutex, each holding it 2 ms (on
// CPU) 50 times.
//
//	prog_gocontend PREFIX   writes PREFIX.cpu.pb.gz, PREFIX.mutex.pb.gz, PREFIX.block.pb.gz
package main

import (
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

var mu sync.Mutex
var sink int

func hold() {
	mu.Lock()
	t := time.Now()
	for time.Since(t) < 2*time.Millisecond {
		sink++
	}
	mu.Unlock()
}

func main() {
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	cf, err := os.Create(os.Args[1] + ".cpu.pb.gz")
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(cf); err != nil {
		panic(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				hold()
			}
		}()
	}
	wg.Wait()
	pprof.StopCPUProfile()
	cf.Close()
	for _, k := range []string{"mutex", "block"} {
		f, err := os.Create(os.Args[1] + "." + k + ".pb.gz")
		if err != nil {
			panic(err)
		}
		if err := pprof.Lookup(k).WriteTo(f, 0); err != nil {
			panic(err)
		}
		f.Close()
	}
}
