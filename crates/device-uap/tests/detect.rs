//! The adapter against real user agents, the cache's bounds, and concurrent use.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use portcullis_device_uap::{MAX_USER_AGENT_LEN, UapDeviceDetector};
use portcullis_domain::model::Device;
use portcullis_domain::ports::DeviceDetector;

/// Compiling the rules takes a noticeable fraction of a second in debug; share one detector's rules.
fn detector() -> &'static UapDeviceDetector {
    static D: OnceLock<UapDeviceDetector> = OnceLock::new();
    D.get_or_init(|| UapDeviceDetector::new().expect("embedded rules load"))
}

/// (user agent, browser, OS, device type).
const TABLE: &[(&str, Option<&str>, Option<&str>, &str)] = &[
    // Desktop browsers.
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        Some("Chrome"),
        Some("Windows"),
        "desktop",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
        Some("Firefox"),
        Some("Windows"),
        "desktop",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
        Some("Edge"),
        Some("Windows"),
        "desktop",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
        Some("Opera"),
        Some("Windows"),
        "desktop",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Vivaldi/6.5.3206.48",
        Some("Vivaldi"),
        Some("Windows"),
        "desktop",
    ),
    ("Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko", Some("IE"), Some("Windows"), "desktop"),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
        Some("Safari"),
        Some("Mac OS X"),
        "desktop",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        Some("Chrome"),
        Some("Mac OS X"),
        "desktop",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.2; rv:121.0) Gecko/20100101 Firefox/121.0",
        Some("Firefox"),
        Some("Mac OS X"),
        "desktop",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
        Some("Edge"),
        Some("Mac OS X"),
        "desktop",
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        Some("Chrome"),
        Some("Linux"),
        "desktop",
    ),
    (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        Some("Firefox"),
        Some("Ubuntu"),
        "desktop",
    ),
    (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        Some("Chrome"),
        Some("Chrome OS"),
        "desktop",
    ),
    // Phones.
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
        Some("Mobile Safari"),
        Some("iOS"),
        "mobile",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
        Some("Chrome Mobile iOS"),
        Some("iOS"),
        "mobile",
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
        Some("Chrome Mobile"),
        Some("Android"),
        "mobile",
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
        Some("Chrome Mobile"),
        Some("Android"),
        "mobile",
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
        Some("Samsung Internet"),
        Some("Android"),
        "mobile",
    ),
    (
        "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
        Some("Firefox Mobile"),
        Some("Android"),
        "mobile",
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; VOG-L29) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 OPR/79.0.4195.76716",
        Some("Opera Mobile"),
        Some("Android"),
        "mobile",
    ),
    (
        "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.15063",
        Some("Edge Mobile"),
        Some("Windows Phone"),
        "mobile",
    ),
    (
        "Mozilla/5.0 (compatible; MSIE 10.0; Windows Phone 8.0; Trident/6.0; IEMobile/10.0; ARM; Touch; NOKIA; Lumia 920)",
        Some("IE Mobile"),
        Some("Windows Phone"),
        "mobile",
    ),
    ("Dalvik/2.1.0 (Linux; U; Android 13; SM-A536B Build/TP1A.220624.014)", Some("Android"), Some("Android"), "mobile"),
    // In-app browsers.
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.1.2;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]",
        Some("Facebook"),
        Some("iOS"),
        "mobile",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 311.0.2.22.109 (iPhone14,5; iOS 17_1_2; en_US; en; scale=3.00; 1170x2532; 536341424)",
        Some("Instagram"),
        Some("iOS"),
        "mobile",
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-G991B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.193 Mobile Safari/537.36 Instagram 309.1.0.41.113 Android (33/13; 480dpi; 1080x2177; samsung; SM-G991B; o1s; exynos2100; en_US; 541635863)",
        Some("Instagram"),
        Some("Android"),
        "mobile",
    ),
    // Tablets.
    (
        "Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
        Some("Mobile Safari"),
        Some("iOS"),
        "tablet",
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        Some("Chrome"),
        Some("Android"),
        "tablet",
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X906C Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Safari/537.36",
        Some("Chrome Mobile WebView"),
        Some("Android"),
        "tablet",
    ),
    (
        "Mozilla/5.0 (Linux; Android 11; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/120.3.1 like Chrome/120.0.6099.144 Safari/537.36",
        Some("Amazon Silk"),
        Some("Android"),
        "tablet",
    ),
    // Crawlers.
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", Some("Googlebot"), None, "bot"),
    (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.199 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        Some("Googlebot"),
        Some("Android"),
        "bot",
    ),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", Some("bingbot"), None, "bot"),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
        Some("GPTBot"),
        None,
        "bot",
    ),
    ("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", Some("YandexBot"), None, "bot"),
    (
        "Mozilla/5.0 (compatible; DuckDuckBot-Https/1.1; https://duckduckgo.com/duckduckbot)",
        Some("DuckDuckBot"),
        None,
        "bot",
    ),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", Some("FacebookBot"), None, "bot"),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", Some("Slackbot-LinkExpanding"), None, "bot"),
    // Tools and HTTP libraries: named, but no device.
    ("curl/8.5.0", Some("curl"), None, "other"),
    ("Wget/1.21.4", Some("Wget"), None, "other"),
    ("Wget/1.20.3 (linux-gnu)", Some("Wget"), Some("Linux"), "other"),
    ("python-requests/2.31.0", Some("Python Requests"), None, "other"),
    ("okhttp/4.12.0", Some("okhttp"), None, "other"),
    ("PostmanRuntime/7.36.0", Some("PostmanRuntime"), None, "other"),
    ("axios/1.6.2", Some("axios"), None, "other"),
    ("Go-http-client/1.1", Some("Go-http-client"), None, "other"),
];

#[test]
fn real_user_agents() {
    assert!(TABLE.len() >= 30);
    let mut wrong = Vec::new();
    for &(ua, browser, os, kind) in TABLE {
        let d = detector().detect(ua);
        let got = (d.browser.as_deref(), d.os.as_deref(), d.device_type.as_deref());
        if got != (browser, os, Some(kind)) {
            wrong.push(format!("{ua}\n  want {:?}\n  got  {got:?}", (browser, os, Some(kind))));
        }
    }
    assert!(wrong.is_empty(), "{} of {} wrong:\n{}", wrong.len(), TABLE.len(), wrong.join("\n"));
}

#[test]
fn versions_are_joined_up_to_three_parts() {
    let d = detector().detect(TABLE[0].0);
    assert_eq!(d.browser_version.as_deref(), Some("120.0.0"));
    assert_eq!(d.os_version.as_deref(), Some("10"));
    let mac = detector().detect(TABLE[6].0);
    assert_eq!((mac.browser_version.as_deref(), mac.os_version.as_deref()), (Some("17.2"), Some("10.15.7")));
    let curl = detector().detect("curl/8.5.0");
    assert_eq!((curl.browser_version.as_deref(), curl.os_version), (Some("8.5.0"), None));
}

#[test]
fn empty_and_blank_user_agents_are_unknown() {
    for ua in ["", " ", "\t \n"] {
        assert_eq!(detector().detect(ua), Device::default(), "{ua:?}");
        assert_eq!(detector().parse_uncached(ua), Device::default(), "{ua:?}");
    }
}

#[test]
fn unrecognised_text_is_other() {
    let d = detector().detect("hello there");
    assert_eq!((d.browser, d.os, d.device_type.as_deref()), (None, None, Some("other")));
}

#[test]
fn five_kilobytes_of_junk_is_quick_and_does_not_panic() {
    // Deterministic junk: printable ASCII, multi-byte characters and fragments of real user agents.
    let pieces = ["Mozilla/5.0 (", "é", "ü", "(((", "Android ", "Chrome/", "9.9.9", ";;", "%00", "🙂", " "];
    let mut junk = String::new();
    let mut i = 0usize;
    while junk.len() < 5 * 1024 {
        junk.push_str(pieces[i * 7 % pieces.len()]);
        junk.push(char::from(b'!' + u8::try_from(i * 31 % 90).unwrap_or(0)));
        i += 1;
    }
    let started = Instant::now();
    let d = UapDeviceDetector::with_cache_capacity(8).expect("rules").detect(&junk);
    assert!(d.device_type.is_some());
    // Generous for an unoptimised build on a busy machine; a release parse takes microseconds.
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    // Only the first MAX_USER_AGENT_LEN characters count.
    let prefix: String = junk.chars().take(MAX_USER_AGENT_LEN).collect();
    assert_eq!(detector().parse_uncached(&junk), detector().parse_uncached(&prefix));
}

#[test]
fn cache_hit_is_identical_and_bounded() {
    let d = UapDeviceDetector::with_cache_capacity(32).expect("rules");
    assert_eq!(d.cache_capacity(), 32);
    let ua = TABLE[13].0;
    let first = d.detect(ua);
    assert_eq!(d.cache_len(), 1);
    assert_eq!(d.detect(ua), first);
    assert_eq!(d.cache_len(), 1);
    assert_eq!(first, d.parse_uncached(ua));
    // Clones share the cache.
    assert_eq!(d.clone().cache_len(), 1);
    for i in 0..500 {
        let _ = d.detect(&format!("curl/{i}.0"));
        assert!(d.cache_len() <= 32, "cache grew to {}", d.cache_len());
    }
    assert!(d.cache_len() > 0);
}

#[test]
fn zero_capacity_disables_the_cache() {
    let d = UapDeviceDetector::with_cache_capacity(0).expect("rules");
    assert_eq!(d.detect("curl/8.5.0").browser.as_deref(), Some("curl"));
    assert_eq!((d.cache_len(), d.cache_capacity()), (0, 0));
}

#[test]
fn small_capacities_are_respected() {
    for cap in [1, 3, 15, 17, 100] {
        let d = UapDeviceDetector::with_cache_capacity(cap).expect("rules");
        for i in 0..200 {
            let _ = d.detect(&format!("okhttp/{i}"));
        }
        assert!(d.cache_len() <= cap && d.cache_capacity() <= cap, "cap {cap}: {}", d.cache_len());
    }
}

#[test]
fn concurrent_detection_agrees_with_serial_parsing() {
    let d = UapDeviceDetector::with_cache_capacity(16).expect("rules");
    let expected: Vec<Device> = TABLE.iter().map(|(ua, ..)| d.parse_uncached(ua)).collect();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (d, expected) = (&d, &expected);
            s.spawn(move || {
                for round in 0..3 {
                    for (i, (ua, ..)) in TABLE.iter().enumerate().skip((t + round) % 5) {
                        assert_eq!(&d.detect(ua), &expected[i], "{ua}");
                    }
                }
            });
        }
    });
    assert!(d.cache_len() <= 16);
}

#[test]
fn usable_through_the_port() {
    let port: std::sync::Arc<dyn DeviceDetector> = std::sync::Arc::new(detector().clone());
    assert_eq!(port.detect("curl/8.5.0").device_type.as_deref(), Some("other"));
}
