use super::hours_message;
use std::time::Duration;

#[test]
fn the_first_fetch_says_how_many_hours_are_left_and_how_long_they_take() {
    assert_eq!(
        hours_message(0, 672, Duration::ZERO),
        "fetch: 0 of 672 hours parsed"
    );
    assert_eq!(
        hours_message(10, 672, Duration::from_secs(5)),
        "fetch: 10 of 672 hours parsed, about 5m 31s left"
    );
    assert_eq!(
        hours_message(1, 100, Duration::from_secs(60)),
        "fetch: 1 of 100 hours parsed, about 1h 39m left"
    );
    assert_eq!(
        hours_message(30, 32, Duration::from_secs(30)),
        "fetch: 30 of 32 hours parsed, about 2s left"
    );
    assert_eq!(
        hours_message(32, 32, Duration::from_secs(30)),
        "fetch: 32 of 32 hours parsed"
    );
}
