use super::*;

fn request() -> Request {
    Request {
        session: 0x0102_0304_0506_0708,
        flags: REQ_STALL,
        position: 100,
        play_position: 40,
        rate: 250_000,
        datagram_size: 1200,
        buffer_ms: 1000,
        client_port: 40000,
        client: "2001:db8:c::10".parse().unwrap(),
        content: "gen:8M".into(),
        ranges: vec![
            Range {
                first: 10,
                count: 2,
            },
            Range {
                first: 50,
                count: 1,
            },
        ],
    }
}

#[test]
fn request_bytes_both_ways() {
    let b = request().encode(None);
    let want: Vec<u8> = [
        &[0xA6, 1, 1, REQ_STALL][..],
        &[1, 2, 3, 4, 5, 6, 7, 8],
        &100u64.to_be_bytes(),
        &40u64.to_be_bytes(),
        &250_000u32.to_be_bytes(),
        &[0x04, 0xB0, 0x03, 0xE8], // 1200, 1000 ms
        &[0x9C, 0x40, 6, 2],       // port 40000, content 6, 2 ranges
        &[
            0x20, 0x01, 0x0d, 0xb8, 0, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ],
        b"gen:8M",
        &10u64.to_be_bytes(),
        &2u32.to_be_bytes(),
        &50u64.to_be_bytes(),
        &1u32.to_be_bytes(),
    ]
    .concat();
    assert_eq!(b, want);
    assert_eq!(b.len(), REQUEST_FIXED_LEN + 6 + 2 * RANGE_LEN);
    assert_eq!(decode(&b), Ok(Message::Request(request(), None)));
}

#[test]
fn signed_request_verifies_and_tampering_does_not() {
    let key = Key::new(7, b"stream key".to_vec());
    let b = request().encode(Some((&key, 1_700_000_000_123)));
    assert_eq!(b.len(), REQUEST_FIXED_LEN + 6 + 2 * RANGE_LEN + TRAILER_LEN);
    assert_eq!(b[3], REQ_STALL | FLAG_AUTH);
    match decode(&b).unwrap() {
        Message::Request(r, Some(t)) => {
            assert_eq!(r, request());
            assert_eq!(
                t,
                Trailer {
                    key_id: 7,
                    timestamp_ms: 1_700_000_000_123
                }
            );
        }
        m => panic!("{m:?}"),
    }
    assert!(verify(&b, &key));
    assert!(!verify(&b, &Key::new(7, b"other".to_vec())));
    // The client address is covered: redirecting the stream breaks it.
    let mut t = b.clone();
    t[55] ^= 1;
    assert!(!verify(&t, &key));
    let s = encode_stop(9, Some((&key, 5)));
    assert_eq!(s.len(), HEADER_LEN + TRAILER_LEN);
    assert!(verify(&s, &key));
    assert!(matches!(
        decode(&s),
        Ok(Message::Stop {
            session: 9,
            trailer: Some(_)
        })
    ));
}

#[test]
fn data_and_end_bytes_both_ways() {
    let d = Data {
        session: 5,
        flags: DATA_RETRANSMIT | DATA_LAST,
        seq: 3,
        total_len: 3603,
        server_id: 0x0a0b0c0d,
        payload: b"abc",
    };
    let b = encode_data(&d);
    let want: Vec<u8> = [
        &[0xA6, 1, 2, 3][..],
        &5u64.to_be_bytes(),
        &3u64.to_be_bytes(),
        &3603u64.to_be_bytes(),
        &[0x0a, 0x0b, 0x0c, 0x0d, 0, 3, 0, 0],
        b"abc",
    ]
    .concat();
    assert_eq!(b, want);
    assert_eq!(decode(&b), Ok(Message::Data(d)));
    let e = End {
        session: 5,
        reason: EndReason::Stopping,
        server_id: 2,
        position: 77,
    };
    let b = encode_end(&e);
    assert_eq!(
        b,
        [
            &[0xA6, 1, 3, 0][..],
            &5u64.to_be_bytes(),
            &[1, 0, 0, 0, 0, 0, 0, 2],
            &77u64.to_be_bytes()
        ]
        .concat()
    );
    assert_eq!(decode(&b), Ok(Message::End(e)));
}

#[test]
fn refusals_name_the_field() {
    let good = request().encode(None);
    let field = |b: &[u8]| match decode(b) {
        Err(DecodeError::Field { field, .. }) => field,
        Err(DecodeError::Short { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    let mut b = good.clone();
    b[0] = 0;
    assert_eq!(field(&b), "magic");
    let mut b = good.clone();
    b[1] = 2;
    assert_eq!(field(&b), "version");
    let mut b = good.clone();
    b[2] = 9;
    assert_eq!(field(&b), "type");
    let mut b = good.clone();
    b[4..12].fill(0);
    assert_eq!(field(&b), "session id");
    let mut b = good.clone();
    b[32..34].copy_from_slice(&2000u16.to_be_bytes());
    assert_eq!(field(&b), "datagram size");
    let mut b = good.clone();
    b[28..32].fill(0);
    assert_eq!(field(&b), "rate");
    // A range reaching past Position.
    let mut r = request();
    r.ranges = vec![Range {
        first: 99,
        count: 2,
    }];
    assert_eq!(field(&r.encode(None)), "range first sequence");
    // Overlapping ranges.
    let mut r = request();
    r.ranges = vec![
        Range {
            first: 10,
            count: 5,
        },
        Range {
            first: 12,
            count: 1,
        },
    ];
    assert_eq!(field(&r.encode(None)), "range first sequence");
    assert_eq!(field(&good[..good.len() - 1]), "ranges");
    assert_eq!(field(&good[..20]), "request fields");
    let mut b = good.clone();
    b.push(0);
    assert_eq!(decode(&b), Err(DecodeError::Trailing { extra: 1 }));
    // Flag A without a trailer.
    let mut b = good;
    b[3] |= FLAG_AUTH;
    assert_eq!(field(&b), "authentication trailer");
}

#[test]
fn every_prefix_of_every_message_decodes_without_panic() {
    let key = Key::new(1, b"k".to_vec());
    let msgs = [
        request().encode(Some((&key, 1))),
        encode_data(&Data {
            session: 1,
            flags: 0,
            seq: 0,
            total_len: 9,
            server_id: 1,
            payload: b"123456789",
        }),
        encode_end(&End {
            session: 1,
            reason: EndReason::Refused,
            server_id: 1,
            position: 0,
        }),
        encode_stop(1, Some((&key, 1))),
    ];
    for m in &msgs {
        for n in 0..m.len() {
            assert!(decode(&m[..n]).is_err(), "prefix {n} of {m:?}");
        }
        assert!(decode(m).is_ok());
    }
}
