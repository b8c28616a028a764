//! Background upkeep runs on the app's clock: moving a test's clock runs the passes that fell
//! due, and returns once they are done; nothing runs at start-up.

use crate::common::*;
use gatehouse::tasks::PRUNE_EVERY;

const EVERY: i64 = PRUNE_EVERY as i64;

backend_tests! {
    #[test]
    fn upkeep_follows_the_clock_and_never_runs_at_start_up() {
        let t = start();
        let db = &t.app().db;
        let before = db.query_count();
        // The harness stepped one second past the start; one more short of a full interval.
        t.clock.advance(EVERY - 2);
        assert_eq!(t.upkeep_log().runs, 0);
        assert_eq!(db.query_count(), before, "something ran before its time");
        t.clock.advance(1);
        let log = t.upkeep_log();
        assert_eq!(log.runs, 1, "due a full interval after the start");
        assert!(log.last.unwrap().is_ok());
        assert!(db.query_count() > before, "the pass was done when the clock returned");
        // A jump over many intervals is one pass (they are not made up), and the next is a
        // full interval after it.
        t.clock.advance(10 * EVERY);
        assert_eq!(t.upkeep_log().runs, 2);
        t.clock.advance(EVERY - 1);
        assert_eq!(t.upkeep_log().runs, 2);
        t.clock.advance(1);
        assert_eq!(t.upkeep_log().runs, 3);
        // Every instance on the clock runs its own, each from its own start.
        let other = t.another_instance();
        assert_eq!(other.upkeep_log().runs, 0);
        t.clock.advance(EVERY);
        assert_eq!((t.upkeep_log().runs, other.upkeep_log().runs), (4, 1));
    }
}
