//! End-to-end tests of Fieldhouse live in `tests/` beside this file: each
//! scenario crosses several crates (simulator → lake → engine → API,
//! dashboard and reports) over real servers on loopback and a real Delta
//! lake in a temp directory. This library is empty on purpose.
