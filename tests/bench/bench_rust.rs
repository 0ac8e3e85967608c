// bench_rust — Rust's std::sync::Mutex contended, for `make bench` (DESIGN §9); driven by
// tests/bench/run. The twin of `bench_mutex contended` (bench_mutex.c), with the same unit of
// work, on a lock that blocks through libc's syscall(SYS_futex) instead of pthread: std's
// Mutex spins a little, then waits with FUTEX_WAIT and wakes with FUTEX_WAKE, both through
// the syscall() its binary binds in the GOT. Built with Debian's rustc -O, no crates.
//
//   bench_rust contended THREADS ITERS
//       THREADS threads, each ITERS x {lock; ~250 ns critical section; unlock} on one
//       Mutex<u64>. The critical section is a busy loop of volatile increments of the guarded
//       counter, calibrated once at start without the lock. Timed section: from the release of
//       the start barrier to the last join.
//       Prints: ops_per_s X cpu_ns_per_op Y   (CPU = user + sys of the whole process,
//                                              getrusage(RUSAGE_SELF), over the timed section)
//
//   bench_rust provider [SYMBOL]
//       Prints: provider PATH   the object that defines the SYMBOL (default syscall) this
//                               program calls, so the driver can check a preload is in effect.
//
// Each workload prints exactly one line on stdout, "key value" pairs; diagnostics go to stderr.
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_long, c_void};
use std::process::exit;
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Instant;

const CS_TARGET_NS: f64 = 250.0;

#[repr(C)]
struct Rusage {
    // ru_utime, ru_stime (struct timeval: seconds, microseconds), then 14 longs.
    f: [c_long; 18],
}

#[repr(C)]
struct DlInfo {
    dli_fname: *const c_char,
    dli_fbase: *mut c_void,
    dli_sname: *const c_char,
    dli_saddr: *mut c_void,
}

extern "C" {
    fn getrusage(who: c_int, usage: *mut Rusage) -> c_int;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn dladdr(addr: *const c_void, info: *mut DlInfo) -> c_int;
}

// User + system time of the whole process, in ns.
fn cpu_ns() -> u64 {
    let mut ru = Rusage { f: [0; 18] };
    if unsafe { getrusage(0, &mut ru) } != 0 {
        eprintln!("bench_rust: getrusage failed");
        exit(1);
    }
    let f = ru.f;
    ((f[0] + f[2]) as u64) * 1_000_000_000 + ((f[1] + f[3]) as u64) * 1000
}

// n volatile increments of *c: what the C twin's busy loop does on its volatile counter.
#[inline(never)]
fn busy(c: &mut u64, n: u64) {
    let p: *mut u64 = c;
    for _ in 0..n {
        unsafe { std::ptr::write_volatile(p, std::ptr::read_volatile(p) + 1) }
    }
}

// Spins per CS_TARGET_NS. Each trial times a long loop; the fastest of several trials is the
// one least disturbed by interrupts and preemption, so it gives the loop's own speed.
fn calibrate() -> u64 {
    let n = 2_000_000u64;
    let mut c = 0u64;
    let mut best = 0f64;
    busy(&mut c, n); // warm-up
    for trial in 0..7 {
        let t0 = Instant::now();
        busy(&mut c, n);
        let ns = t0.elapsed().as_nanos() as f64;
        if trial == 0 || ns < best {
            best = ns;
        }
    }
    let spins = CS_TARGET_NS * n as f64 / best;
    if spins < 1.0 {
        1
    } else {
        (spins + 0.5) as u64
    }
}

fn run_contended(threads: u64, iters: u64) {
    let spins = calibrate();
    let lock = Arc::new(Mutex::new(0u64));
    let start = Arc::new(Barrier::new(threads as usize + 1));
    let mut workers = Vec::new();
    for _ in 0..threads {
        let (lock, start) = (lock.clone(), start.clone());
        workers.push(thread::spawn(move || {
            start.wait();
            for _ in 0..iters {
                let mut g = lock.lock().unwrap();
                busy(&mut g, spins);
            }
        }));
    }
    // The workers are asleep in the barrier: the clocks start before they are released.
    let (c0, t0) = (cpu_ns(), Instant::now());
    start.wait();
    for w in workers {
        w.join().unwrap();
    }
    let wall = t0.elapsed().as_nanos() as f64;
    let cpu = (cpu_ns() - c0) as f64;
    let ops = (threads * iters) as f64;
    println!("ops_per_s {:.1} cpu_ns_per_op {:.2}", ops * 1e9 / wall, cpu / ops);
}

fn provider(symbol: &str) {
    let name = CString::new(symbol).unwrap();
    let mut info = DlInfo {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    let p = unsafe { dlsym(std::ptr::null_mut(), name.as_ptr()) }; // RTLD_DEFAULT
    if p.is_null() || unsafe { dladdr(p, &mut info) } == 0 || info.dli_fname.is_null() {
        eprintln!("bench_rust: cannot locate {}", symbol);
        exit(1);
    }
    println!("provider {}", unsafe { CStr::from_ptr(info.dli_fname) }.to_string_lossy());
}

fn count(s: &str, what: &str) -> u64 {
    match s.parse::<u64>() {
        Ok(v) if v > 0 => v,
        _ => {
            eprintln!("bench_rust: {} '{}': expected a positive integer", what, s);
            exit(2);
        }
    }
}

fn usage() -> ! {
    eprintln!("usage: bench_rust contended THREADS ITERS\n       bench_rust provider [SYMBOL]");
    exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    match a[1..] {
        ["contended", t, n] => run_contended(count(t, "THREADS"), count(n, "ITERS")),
        ["provider"] => provider("syscall"),
        ["provider", s] => provider(s),
        _ => usage(),
    }
}
