//! Error texts in the shape of hashicorp/go-multierror, which Vault uses
//! for many of its answers: `1 error occurred:\n\t* text\n\n`.

/// `messages` rendered as go-multierror renders a list of errors.
pub fn multierror<S: AsRef<str>>(messages: &[S]) -> String {
    let count = messages.len();
    let mut out = if count == 1 {
        "1 error occurred:\n".to_string()
    } else {
        format!("{count} errors occurred:\n")
    };
    for message in messages {
        out.push_str("\t* ");
        out.push_str(message.as_ref());
        out.push('\n');
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_go_multierror() {
        assert_eq!(
            multierror(&["permission denied"]),
            "1 error occurred:\n\t* permission denied\n\n"
        );
        assert_eq!(
            multierror(&["permission denied", "invalid token"]),
            "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"
        );
    }
}
