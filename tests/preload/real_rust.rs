// real_rust — Rust's std blocking as Rust programs do, through libc's syscall() (reallibs.t):
// std::sync::Mutex, Condvar and mpsc, built with Debian's rustc, no crates. Each part measures
// its own waits with Instant (CLOCK_MONOTONIC) around the blocking call and prints
// "measure KEY NS" lines, as the C test programs do (tests/preload/progutil.h).
//
//   mutex      a convoy: a holder holds a Mutex HOLD ms while 3 waiters block in
//              convoy_waiter_wait, ROUNDS rounds; convoy_release drops the holder's guard.
//              mutex_wait_total, mutex_wait_count, mutex_owed (Σ release − each wait's start)
//   condvar    a hand-off: cond_waiter_wait blocks in Condvar::wait until cond_notify (HOLD ms
//              after the waiter is asleep) sets the flag and calls notify_one outside the lock.
//              cond_wait_total, cond_owed
//   channel    an mpsc hand-off: chan_recv blocks in recv() until chan_send sends, HOLD ms after
//              the receiver is asleep. chan_wait_total, chan_owed
//
// Usage: real_rust [ROUNDS [HOLD_MS [linger]]]
// linger: then prints "lingering" and waits for the end of standard input, so that a test can
// read the live endpoint's views of the waits (demangle.t).
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const WAITERS: usize = 3;

fn ns(start: Instant, t: Instant) -> u64 {
    t.duration_since(start).as_nanos() as u64
}

// The calling thread's id, from /proc/thread-self ("PID/task/TID").
fn thread_id() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
    link.file_name().unwrap().to_str().unwrap().parse().unwrap()
}

// Whether thread tid sleeps (state S in /proc/self/task/TID/stat).
fn sleeping(tid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/self/task/{}/stat", tid)) {
        Ok(s) => s.rfind(')').map_or(false, |i| s[i + 1..].starts_with(" S")),
        Err(_) => false,
    }
}

fn await_asleep(tids: &[AtomicUsize]) {
    for t in tids {
        loop {
            let tid = t.load(Ordering::Acquire);
            if tid != 0 && sleeping(tid as u32) {
                break;
            }
            thread::sleep(Duration::from_micros(200));
        }
    }
}

fn await_at_least(c: &AtomicUsize, want: usize) {
    while c.load(Ordering::Acquire) < want {
        thread::sleep(Duration::from_micros(100));
    }
}

struct Shared {
    epoch: Instant,
    lock: Mutex<u64>,
    round: AtomicUsize,
    arrived: AtomicUsize,
    finished: AtomicUsize,
    tids: [AtomicUsize; WAITERS],
    starts: [AtomicU64; WAITERS],
    wait_total: AtomicU64,
    wait_count: AtomicU64,
}

#[inline(never)]
fn convoy_waiter_wait(s: &Shared, id: usize) {
    let t0 = Instant::now();
    s.starts[id].store(ns(s.epoch, t0), Ordering::Release);
    s.arrived.fetch_add(1, Ordering::AcqRel);
    let mut g = s.lock.lock().unwrap();
    let waited = ns(t0, Instant::now());
    *g += 1;
    drop(g);
    s.wait_total.fetch_add(waited, Ordering::Relaxed);
    s.wait_count.fetch_add(1, Ordering::Relaxed);
}

#[inline(never)]
fn convoy_release(s: &Shared, g: std::sync::MutexGuard<'_, u64>) -> u64 {
    let t = ns(s.epoch, Instant::now());
    drop(g);
    t
}

fn mutex_convoy(rounds: usize, hold: Duration) {
    let s = Arc::new(Shared {
        epoch: Instant::now(),
        lock: Mutex::new(0),
        round: AtomicUsize::new(0),
        arrived: AtomicUsize::new(0),
        finished: AtomicUsize::new(0),
        tids: Default::default(),
        starts: Default::default(),
        wait_total: AtomicU64::new(0),
        wait_count: AtomicU64::new(0),
    });
    let mut handles = Vec::new();
    for id in 0..WAITERS {
        let s = s.clone();
        handles.push(thread::spawn(move || {
            s.tids[id].store(thread_id() as usize, Ordering::Release);
            for r in 1..=rounds {
                await_at_least(&s.round, r);
                convoy_waiter_wait(&s, id);
                s.finished.fetch_add(1, Ordering::AcqRel);
            }
        }));
    }
    let mut owed = 0u64;
    for r in 1..=rounds {
        let g = s.lock.lock().unwrap();
        s.round.store(r, Ordering::Release);
        await_at_least(&s.arrived, r * WAITERS);
        await_asleep(&s.tids);
        thread::sleep(hold);
        let released = convoy_release(&s, g);
        for id in 0..WAITERS {
            owed += released - s.starts[id].load(Ordering::Acquire);
        }
        await_at_least(&s.finished, r * WAITERS);
    }
    for h in handles {
        h.join().unwrap();
    }
    println!("mutex: {} rounds, counter {}", rounds, *s.lock.lock().unwrap());
    println!("measure mutex_wait_total {}", s.wait_total.load(Ordering::Relaxed));
    println!("measure mutex_wait_count {}", s.wait_count.load(Ordering::Relaxed));
    println!("measure mutex_owed {}", owed);
}

struct Hand {
    epoch: Instant,
    flag: Mutex<usize>,
    cv: Condvar,
    ready: AtomicUsize,
    tid: [AtomicUsize; 1],
    start: AtomicU64,
    wait_total: AtomicU64,
}

#[inline(never)]
fn cond_waiter_wait(h: &Hand, round: usize) {
    let mut g = h.flag.lock().unwrap();
    let t0 = Instant::now();
    h.start.store(ns(h.epoch, t0), Ordering::Release);
    h.ready.store(round, Ordering::Release);
    while *g < round {
        g = h.cv.wait(g).unwrap();
    }
    h.wait_total.fetch_add(ns(t0, Instant::now()), Ordering::Relaxed);
}

#[inline(never)]
fn cond_notify(h: &Hand, round: usize) -> u64 {
    *h.flag.lock().unwrap() = round;
    let t = ns(h.epoch, Instant::now());
    h.cv.notify_one();
    t
}

fn condvar_handoff(rounds: usize, hold: Duration) {
    let h = Arc::new(Hand {
        epoch: Instant::now(),
        flag: Mutex::new(0),
        cv: Condvar::new(),
        ready: AtomicUsize::new(0),
        tid: Default::default(),
        start: AtomicU64::new(0),
        wait_total: AtomicU64::new(0),
    });
    let h2 = h.clone();
    let waiter = thread::spawn(move || {
        h2.tid[0].store(thread_id() as usize, Ordering::Release);
        for r in 1..=rounds {
            cond_waiter_wait(&h2, r);
        }
    });
    let mut owed = 0u64;
    for r in 1..=rounds {
        await_at_least(&h.ready, r);
        await_asleep(&h.tid);
        thread::sleep(hold);
        let start = h.start.load(Ordering::Acquire);
        owed += cond_notify(&h, r) - start;
    }
    waiter.join().unwrap();
    println!("condvar: {} rounds", rounds);
    println!("measure cond_wait_total {}", h.wait_total.load(Ordering::Relaxed));
    println!("measure cond_owed {}", owed);
}

#[inline(never)]
fn chan_recv(rx: &mpsc::Receiver<u64>, total: &AtomicU64) -> u64 {
    let t0 = Instant::now();
    let v = rx.recv().unwrap();
    total.fetch_add(ns(t0, Instant::now()), Ordering::Relaxed);
    v
}

#[inline(never)]
fn chan_send(tx: &mpsc::Sender<u64>, epoch: Instant) -> u64 {
    let t = ns(epoch, Instant::now());
    tx.send(t).unwrap();
    t
}

fn channel_handoff(rounds: usize, hold: Duration) {
    let epoch = Instant::now();
    let (tx, rx) = mpsc::channel::<u64>();
    let tid: Arc<[AtomicUsize; 1]> = Arc::new(Default::default());
    let ready = Arc::new(AtomicUsize::new(0));
    let starts = Arc::new(AtomicU64::new(0));
    let total = Arc::new(AtomicU64::new(0));
    let (tid2, ready2, starts2, total2) = (tid.clone(), ready.clone(), starts.clone(), total.clone());
    let receiver = thread::spawn(move || {
        tid2[0].store(thread_id() as usize, Ordering::Release);
        let mut sum = 0;
        for r in 1..=rounds {
            starts2.store(ns(epoch, Instant::now()), Ordering::Release);
            ready2.store(r, Ordering::Release);
            sum += chan_recv(&rx, &total2);
        }
        sum
    });
    let mut owed = 0u64;
    for r in 1..=rounds {
        await_at_least(&ready, r);
        await_asleep(&tid[..]);
        thread::sleep(hold);
        let start = starts.load(Ordering::Acquire);
        owed += chan_send(&tx, epoch) - start;
    }
    receiver.join().unwrap();
    println!("channel: {} rounds", rounds);
    println!("measure chan_wait_total {}", total.load(Ordering::Relaxed));
    println!("measure chan_owed {}", owed);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds = args.get(1).map_or(4, |s| s.parse().unwrap());
    let hold = Duration::from_millis(args.get(2).map_or(40, |s| s.parse().unwrap()));
    mutex_convoy(rounds, hold);
    condvar_handoff(rounds, hold);
    channel_handoff(rounds, hold);
    if args.get(3).map_or(false, |s| s == "linger") {
        println!("lingering");
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut rest).unwrap();
    }
}
