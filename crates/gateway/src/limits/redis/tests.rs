//! Checks that the script's calendar (Lua, on Redis) names and ends periods exactly as
//! `period.rs` does, over several years of timestamps. Needs `SWITCHBOARD_TEST_REDIS_URL`.

use redis::Script;

use crate::limits::period::{period_at, period_code};
use crate::limits::spec::BudgetPeriod;

#[tokio::test]
async fn lua_calendar_matches_rust() {
    let Ok(url) = std::env::var("SWITCHBOARD_TEST_REDIS_URL") else {
        eprintln!("SKIPPED lua_calendar_matches_rust: SWITCHBOARD_TEST_REDIS_URL is not set");
        return;
    };
    let source = include_str!("admit.lua");
    let begin = source
        .find("-- calendar: begin")
        .expect("calendar begin marker");
    let end = source
        .find("-- calendar: end")
        .expect("calendar end marker");
    let script = Script::new(&format!(
        "{}\nlocal out = {{}}\nfor i = 2, #ARGV do\n  local tag, ends = period(ARGV[1], \
         tonumber(ARGV[i]))\n  out[#out + 1] = tag\n  out[#out + 1] = ends\nend\nreturn out",
        &source[begin..end]
    ));
    let client = redis::Client::open(url).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the test Redis");

    // 2023-12-25 → 2028-03-05 every 7 h 13 min 17 s: every weekday, month end and leap day
    // is crossed, at varied times of day; plus the exact edges of a few periods.
    let mut times: Vec<u64> = (0..5000).map(|i| 1_703_462_400 + i * 25_997).collect();
    times.extend([
        1_709_164_799, // 2024-02-28 23:59:59
        1_709_164_800, // 2024-02-29 00:00:00
        1_709_251_200, // 2024-03-01 00:00:00
        1_735_689_599, // 2024-12-31 23:59:59
        1_735_689_600, // 2025-01-01 00:00:00 (a Wednesday)
    ]);
    for kind in [
        BudgetPeriod::Day,
        BudgetPeriod::Week,
        BudgetPeriod::Month,
        BudgetPeriod::Total,
    ] {
        let mut call = script.prepare_invoke();
        call.arg(period_code(kind));
        for t in &times {
            call.arg(*t);
        }
        let reply: Vec<redis::Value> = call.invoke_async(&mut conn).await.expect("script");
        for (i, t) in times.iter().enumerate() {
            let want = period_at(kind, *t);
            let tag: String = redis::from_redis_value(reply[2 * i].clone()).expect("tag");
            let ends: i64 = redis::from_redis_value(reply[2 * i + 1].clone()).expect("end");
            let want_ends = want
                .ends_at
                .map_or(-1, |e| i64::try_from(e).expect("end fits"));
            assert_eq!(
                (tag.as_str(), ends),
                (want.tag.as_str(), want_ends),
                "{kind:?} at {t}"
            );
        }
    }
}
