//! Personal identifiers as they are written: the check character of a resident identity
//! card number (GB 11643-1999) and the search of free text for an ID number or a mobile
//! number. The personal data vault validates ID numbers with the same check; the decider
//! refuses free text that holds either (it is kept in every event forever, in clear).

/// An ID number (身份证号码: 17 digits and a check character that fits, GB 11643) or a
/// mainland mobile number (11 digits from `13`–`19`, also as `+86 138 1234 5678` or with
/// dashes, full-width digits too) in free text — `"an ID number"` or `"a mobile number"`.
///
/// Free text is kept in every event forever, in clear; such numbers belong in a party's
/// fields, which the personal data vault keeps encrypted and can erase (DOMAIN.md, "Personal
/// information"). Names cannot be told from other words, so this catches the identifiers only.
pub fn personal_number_in(text: &str) -> Option<&'static str> {
    let mut runs: Vec<String> = Vec::new();
    let mut run = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let c = match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            'Ｘ' | 'x' => 'X',
            other => other,
        };
        let next_is_digit = chars
            .peek()
            .is_some_and(|n| n.is_ascii_digit() || ('０'..='９').contains(n));
        if c.is_ascii_digit() || (c == 'X' && !run.is_empty()) {
            run.push(c);
            if c == 'X' {
                runs.push(std::mem::take(&mut run));
            }
        } else if matches!(c, ' ' | '-' | '\u{3000}') && !run.is_empty() && next_is_digit {
            // A separator inside a number, as people write phones: 138-1234-5678.
        } else if !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs.iter().find_map(|r| {
        let mobile = |d: &str| {
            d.len() == 11
                && d.starts_with('1')
                && matches!(d.as_bytes()[1], b'3'..=b'9')
                && d.bytes().all(|b| b.is_ascii_digit())
        };
        if mobile(r) || r.strip_prefix("86").is_some_and(mobile) {
            Some("a mobile number")
        } else if is_id_number(r) {
            Some("an ID number")
        } else {
            None
        }
    })
}

/// 17 ASCII digits and the GB 11643 check character that fits them (upper-case `X`).
fn is_id_number(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 18
        && b[..17].iter().all(u8::is_ascii_digit)
        && id_number_check_character(&b[..17]) == Some(b[17])
}

/// GB 11643-1999 weights of the first 17 digits.
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each remainder of the weighted sum mod 11 (ISO 7064 MOD 11-2).
const ID_CHECK: [u8; 11] = *b"10X98765432";

/// The check character (`0`–`9` or `X`) of an ID number's first 17 digits (GB 11643-1999,
/// ISO 7064 MOD 11-2); `None` unless they are 17 ASCII digits.
pub fn id_number_check_character(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 || !first17.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = first17
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    Some(ID_CHECK[(sum % 11) as usize])
}
