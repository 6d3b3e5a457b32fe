//! Lines held until there are enough to check together.
//!
//! Checking a few dozen events at once lets the guard and the summary fetch every actor's state
//! from memory before the first check ([`Guard::assess_batch`](pattern_guard::Guard::assess_batch)),
//! so with tens of thousands of live actors the waits for memory overlap instead of following one
//! another. The lines are copied into one buffer (a line is parsed where it lies; its event
//! borrows from the buffer until the batch is checked), so holding them allocates nothing once
//! the buffer has grown.

/// Lines checked together: enough to overlap the memory waits of many actors, few enough that
/// every line fetched is still in the core's cache when its check comes.
pub const LINES: usize = 64;

/// Lines read but not checked yet, with their line numbers.
#[derive(Default)]
pub struct Batch {
    bytes: Vec<u8>,
    /// Line number and end of each line in `bytes`.
    lines: Vec<(u64, usize)>,
}

impl Batch {
    /// Holds `line` (number `number`); true when the batch is full.
    pub fn push(&mut self, number: u64, line: &[u8]) -> bool {
        self.bytes.extend_from_slice(line);
        self.lines.push((number, self.bytes.len()));
        self.lines.len() >= LINES
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The held lines in order, with their numbers.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> + '_ {
        let starts = std::iter::once(0).chain(self.lines.iter().map(|&(_, end)| end));
        self.lines
            .iter()
            .zip(starts)
            .map(|(&(number, end), start)| (number, &self.bytes[start..end]))
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.lines.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_back_in_order_with_their_numbers() {
        let mut batch = Batch::default();
        assert!(batch.is_empty());
        assert!(!batch.push(3, b"first"));
        assert!(!batch.push(4, b""));
        assert!(!batch.push(9, b"third line"));
        let got: Vec<(u64, &[u8])> = batch.iter().collect();
        assert_eq!(got, [(3, &b"first"[..]), (4, b""), (9, b"third line")]);
        batch.clear();
        assert!(batch.is_empty());
        assert_eq!(batch.iter().count(), 0);
    }

    #[test]
    fn a_batch_is_full_at_its_size() {
        let mut batch = Batch::default();
        let full: Vec<bool> = (0..LINES as u64).map(|n| batch.push(n, b"x")).collect();
        assert_eq!(full.iter().filter(|&&f| f).count(), 1);
        assert!(full[LINES - 1]);
    }
}
