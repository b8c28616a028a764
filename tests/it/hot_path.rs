//! The signed-in hot path touches no database: a fresh token is verified in memory (and
//! remembered), the dashboard's session details and forward-auth's profile come from caches.

use crate::common::*;
use rocket::http::Status;

backend_tests! {
    #[test]
    fn dashboard_hot_path_makes_no_query() {
        let t = start();
        t.signed_up("hana");
        // Warm: forward-auth's profile cache fills on its first use.
        assert_eq!(t.get("/auth/verify").status(), Status::Ok);
        let db = &t.app().db;
        let before = db.query_count();
        for _ in 0..20 {
            let r = t.get("/dashboard");
            assert_eq!(r.status(), Status::Ok);
            assert!(r.into_string().unwrap().contains("data-testid=\"dashboard\""));
            assert_eq!(t.get("/auth/verify").status(), Status::Ok);
        }
        assert_eq!(db.query_count(), before, "queries on the hot path");
        // Once the token is due for revalidation, exactly the revalidation queries run, once.
        t.clock.advance(61);
        // Counted from here: moving the clock ran upkeep, whose statements are not the hot path's.
        let due = db.query_count();
        assert_eq!(t.get("/dashboard").status(), Status::Ok);
        let after_revalidation = db.query_count();
        assert!(after_revalidation > due);
        for _ in 0..5 {
            assert_eq!(t.get("/dashboard").status(), Status::Ok);
        }
        assert_eq!(db.query_count(), after_revalidation, "the renewed token is fresh again");
    }

    #[test]
    fn the_counter_sees_queries_so_the_test_above_means_something() {
        let t = start();
        let db = &t.app().db;
        let before = db.query_count();
        assert_eq!(t.get("/healthz").status(), Status::Ok);
        assert!(db.query_count() > before);
    }
}
