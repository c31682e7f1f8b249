//! FILE_CHECK (keepalived-spec.md §4.13): the number in a tracked file, times the
//! checker's weight (negated with `reverse`), adjusts the real server's weight; a
//! result at or below INT32_MIN takes the real server down.

use crate::config::model::check::checker::FileCheck;

/// Reads the value of a track file: its first integer, 0 when unreadable or empty
/// (as keepalived's track_file).
pub fn read_value(path: &str) -> i64 {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| parse_value(&s))
        .unwrap_or(0)
}

/// The leading (optionally signed) decimal integer of `s`, else 0.
pub fn parse_value(s: &str) -> i64 {
    let t = s.trim_start();
    let end = t
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map(|(i, _)| i)
        .unwrap_or(t.len());
    t.get(..end).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// The weight adjustment for `value` with the checker's weight (`file_weight` = the
/// track_file's own weight when the checker gives none); `None` = real server down.
/// Weight 0 means "any non-zero value is a failure", as for VRRP track files.
pub fn adjustment(cfg: &FileCheck, file_weight: i32, value: i64) -> Option<i64> {
    let w = i64::from(cfg.weight.unwrap_or(file_weight));
    if w == 0 {
        return if value == 0 { Some(0) } else { None };
    }
    let adj = value.saturating_mul(if cfg.reverse { -w } else { w });
    if adj <= i64::from(i32::MIN) {
        None
    } else {
        Some(adj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fc(w: Option<i32>, reverse: bool) -> FileCheck {
        FileCheck {
            track_file: "f".into(),
            weight: w,
            reverse,
        }
    }

    #[test]
    fn values_and_adjustments() {
        assert_eq!(parse_value(" 12\n"), 12);
        assert_eq!(parse_value("-3x"), -3);
        assert_eq!(parse_value("abc"), 0);
        assert_eq!(parse_value(""), 0);
        assert_eq!(adjustment(&fc(Some(2), false), 1, 5), Some(10));
        assert_eq!(adjustment(&fc(Some(2), true), 1, 5), Some(-10));
        assert_eq!(adjustment(&fc(None, false), 3, -1), Some(-3));
        assert_eq!(adjustment(&fc(Some(0), false), 1, 0), Some(0));
        assert_eq!(adjustment(&fc(Some(0), false), 1, 1), None);
        assert_eq!(
            adjustment(&fc(Some(1), false), 1, i64::from(i32::MIN)),
            None
        );
        assert_eq!(adjustment(&fc(Some(1), false), 1, i64::MAX), Some(i64::MAX));
    }
}
