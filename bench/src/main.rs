//! anycast6 benchmark suite (skeleton: the framework helper fills main,
//! report, plots; the traffic helper fills traffic scenarios).
mod figure;
mod traffic;

fn main() {
    let _ = figure::at_least(1.0);
}
