//! From `ua-parser`'s three answers (client, OS, device) to the domain's [`Device`].

use portcullis_domain::model::Device;
use ua_parser::{Extractor, device, os, user_agent};

/// uap-core's placeholder for "no idea"; the domain says `None` instead.
const OTHER: &str = "Other";

/// Operating systems whose devices are phones unless something says tablet.
const MOBILE_OSES: &[&str] = &[
    "iOS",
    "Android",
    "Windows Phone",
    "Windows Mobile",
    "BlackBerry OS",
    "BlackBerry Tablet OS",
    "Symbian OS",
    "Symbian^3",
    "KaiOS",
    "Firefox OS",
    "Tizen",
    "Sailfish",
    "webOS",
    "HarmonyOS",
    "Ubuntu Touch",
];

/// Operating systems of desktops and laptops.
const DESKTOP_OSES: &[&str] = &[
    "Windows",
    "Mac OS X",
    "macOS",
    "Linux",
    "Ubuntu",
    "Debian",
    "Fedora",
    "Red Hat",
    "SUSE",
    "openSUSE",
    "Mint",
    "Arch Linux",
    "Gentoo",
    "Mandriva",
    "Slackware",
    "CentOS",
    "Chrome OS",
    "ChromeOS",
    "FreeBSD",
    "OpenBSD",
    "NetBSD",
    "Solaris",
];

/// Device families and models that are tablets (matched as substrings, case-insensitively).
const TABLET_HINTS: &[&str] = &["ipad", "tablet", "kindle", "galaxy tab", "nexus 7", "nexus 9", "nexus 10", "playbook"];

/// Parses `ua` (already trimmed to length) and maps the result.
pub(crate) fn device(ex: &Extractor<'_>, ua: &str) -> Device {
    let (client, os, dev) = ex.extract(ua);
    let device_type = device_type(ua, client.as_ref(), os.as_ref(), dev.as_ref());
    Device {
        browser: client.as_ref().and_then(|c| known(&c.family)),
        browser_version: client.as_ref().and_then(|c| version([c.major, c.minor, c.patch])),
        os: os.as_ref().and_then(|o| known(&o.os)),
        os_version: os.as_ref().and_then(|o| version([o.major.as_deref(), o.minor.as_deref(), o.patch.as_deref()])),
        device_type: Some(device_type.to_owned()),
    }
}

fn known(name: &str) -> Option<String> {
    let name = name.trim();
    (!name.is_empty() && name != OTHER).then(|| name.to_owned())
}

/// `major[.minor[.patch]]`, stopping at the first missing or empty part.
fn version(parts: [Option<&str>; 3]) -> Option<String> {
    let parts: Vec<&str> = parts.into_iter().map_while(|p| p.map(str::trim).filter(|p| !p.is_empty())).collect();
    (!parts.is_empty()).then(|| parts.join("."))
}

/// One of `bot`, `tablet`, `mobile`, `desktop`, `other`, checked in that order.
fn device_type(
    ua: &str,
    client: Option<&user_agent::ValueRef<'_>>,
    os: Option<&os::ValueRef<'_>>,
    dev: Option<&device::ValueRef<'_>>,
) -> &'static str {
    let dev_family = dev.map_or("", |d| d.device.as_ref());
    // uap-core puts every crawler it recognises (by name or by "bot"/"crawler"/"spider" words) in the
    // device family "Spider"; the client family catches the few it names without that.
    if dev_family == "Spider" || client.is_some_and(|c| is_bot_name(&c.family)) {
        return "bot";
    }
    let os_name = os.map_or("", |o| o.os.as_ref());
    let model = dev.and_then(|d| d.model.as_deref()).unwrap_or("");
    let hinted = |s: &str| {
        let s = s.to_ascii_lowercase();
        TABLET_HINTS.iter().any(|h| s.contains(h))
    };
    // Chrome and Firefox on Android say "Mobile" on phones only; apps' own clients ("Dalvik/2.1.0 (Linux;
    // U; Android 13; …)") never do, so for them the missing word says nothing.
    let browser_like = ua.starts_with("Mozilla/") || ua.starts_with("Opera/");
    if hinted(dev_family) || hinted(model) || (os_name == "Android" && browser_like && !ua.contains("Mobile")) {
        return "tablet";
    }
    if MOBILE_OSES.contains(&os_name) || matches!(dev_family, "iPhone" | "iPod" | "Generic Smartphone") {
        return "mobile";
    }
    // Desktop OSes also appear in tools' user agents ("Wget/1.21 (linux-gnu)"); only a browser-style
    // "Mozilla/…" string makes a desktop.
    if DESKTOP_OSES.contains(&os_name) && browser_like {
        return "desktop";
    }
    "other"
}

fn is_bot_name(family: &str) -> bool {
    let f = family.to_ascii_lowercase();
    ["bot", "crawler", "spider", "slurp"].iter().any(|w| f.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_stops_at_the_first_gap() {
        assert_eq!(version([Some("1"), Some("2"), Some("3")]).as_deref(), Some("1.2.3"));
        assert_eq!(version([Some("1"), None, Some("3")]).as_deref(), Some("1"));
        assert_eq!(version([Some(""), Some("2"), None]), None);
        assert_eq!(version([None, None, None]), None);
    }

    #[test]
    fn other_is_unknown() {
        assert_eq!(known("Other"), None);
        assert_eq!(known(" "), None);
        assert_eq!(known("Chrome").as_deref(), Some("Chrome"));
    }
}
