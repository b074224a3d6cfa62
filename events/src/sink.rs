//! Where events go. A sink never fails the runtime: making the container
//! matters more than reporting it, so a sink that cannot keep up drops and
//! counts instead of blocking or erroring.

use std::sync::Mutex;

use crate::event::Event;

pub trait Sink {
    fn emit(&self, event: &Event);
}

/// Keeps every event in memory: for tests, and for the narrator's replay.
#[derive(Debug, Default)]
pub struct MemorySink {
    events: Mutex<Vec<Event>>,
}

impl MemorySink {
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().expect("not poisoned").clone()
    }
}

impl Sink for MemorySink {
    fn emit(&self, event: &Event) {
        self.events.lock().expect("not poisoned").push(event.clone());
    }
}
