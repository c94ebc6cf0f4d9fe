// Package spamscan judges outbound messages before they are stored: a
// built-in scanner, a client of rspamd, the chain of both that Postern
// runs, and the pure mapping from a verdict to an SMTP reply.
//
// # The built-in scanner
//
// Builtin needs no network and keeps no state. In order:
//
//  1. GTUBE, the Generic Test for Unsolicited Bulk Email, anywhere in
//     the message (header or body, raw, in the decoded Subject, or in a
//     decoded base64 or quoted-printable part) is always refused
//     (symbol GTUBE).
//  2. An executable attachment is refused (EXECUTABLE_ATTACHMENT), at
//     any depth of nested multiparts and message/rfc822 parts, by the
//     file name in the name parameter of Content-Type or the filename
//     parameter of Content-Disposition (case, trailing dots and trailing
//     spaces ignored), or by the media type; both lists are below. A
//     file name is read in every form a mail client may read it: as
//     written, decoded from RFC 2047 encoded words, decoded from an RFC
//     2231 extended value, reassembled from RFC 2231 continuations. Next
//     to the MIME walk (RFC 2045, RFC 2046 §5.1.1), every line of the raw
//     message that starts a Content-Type or Content-Disposition field is
//     checked too, so a part that a mail client would find and this
//     parser would not (a parser differential) is still seen; the price
//     is that a text quoting such a field, with an executable's name, at
//     the start of a line is refused as well.
//     Every decoded leaf that is a zip archive, whatever its name or type
//     says, is looked into, and so is every text for uuencoded files
//     (both below): an executable there is refused the same way.
//  3. A message nested deeper than 16 levels or with more than 500 parts
//     is refused (MIME_TOO_COMPLEX): what cannot be scanned whole does
//     not go out. So is an archive that cannot be looked into whole
//     (below).
//  4. The scored rules below add up. A total at or over the threshold
//     (Builtin.Threshold, DefaultThreshold = 5) is a reject; at or over
//     half of it, the message is accepted with the headers X-Spam: Yes,
//     X-Spam-Score and X-Spam-Status ("Yes, score=3.50
//     tests=HTML_ONLY,URL_SHORTENER"); under that, it is accepted as it
//     is.
//
// The scored rules ("text" is the decoded text/plain and text/html parts
// that are not attachments):
//
//	MISSING_SUBJECT    2.0  no Subject field, or an empty one
//	EMPTY_BODY         2.0  no part has anything but whitespace
//	SUBJECT_ALL_CAPS   1.5  the Subject has 8 or more cased letters, all upper case
//	MANY_EXCLAMATIONS  1.5  3 or more "!" in the Subject, or 10 or more in the text
//	URL_SHORTENER      2.0  the text links (http or https) to bit.ly, tinyurl.com,
//	                        goo.gl, t.co, ow.ly, is.gd, buff.ly, rebrand.ly,
//	                        cutt.ly, shorturl.at, rb.gy, tiny.cc, t.ly, s.id or v.gd
//	REPLY_TO_MISMATCH  1.0  Reply-To's domain is neither From's domain nor a
//	                        parent or subdomain of it
//	HTML_ONLY          1.0  a text/html part and no text/plain one
//
// The executable extensions: what runs, installs, mounts or carries code
// when it is opened (after the file types Gmail refuses, in archives too,
// and Outlook blocks; without what is only data, such as certificates and
// databases):
//
//	programs, installers  .exe .ex_ .com .scr .pif .cpl .dll .sys .vxd .msi .msp
//	                      .mst .msu .appx .appxbundle .msix .msixbundle
//	                      .appinstaller .application .appref-ms .xbap .gadget
//	                      .jar .jnlp .dmg .pkg .command .apk
//	scripts               .bat .cmd .vb .vbs .vbe .js .jse .mjs .ws .wsf .wsh .wsc
//	                      .ps1 .ps1xml .ps2 .ps2xml .psc1 .psc2 .psm1 .psd1
//	                      .msh .msh1 .msh2 .mshxml .msh1xml .msh2xml
//	                      .hta .sct .scf .shb .shs .inf .ins .isp .reg
//	shortcuts, settings   .lnk .url .website .settingcontent-ms .library-ms
//	                      .search-ms .searchconnector-ms .appcontent-ms .xnk .wsb
//	disk images           .iso .img .vhd .vhdx
//	code in documents     .xll .iqy .slk .one .onepkg .chm .hlp .msc .diagcab
//	                      .diagcfg .diagpkg .cab .ade .adp .mde
//
// The executable media types:
//
//	application/x-msdownload          application/x-dosexec
//	application/x-msdos-program       application/x-ms-dos-executable
//	application/x-executable          application/vnd.microsoft.portable-executable
//	application/x-msi                 application/x-ms-installer
//	application/x-ms-shortcut         application/java-archive
//	application/hta                   application/x-ms-application
//	application/x-iso9660-image       application/x-apple-diskimage
//	application/vnd.ms-htmlhelp       application/onenote
//	application/msonenote             application/x-mswinurl
//	application/appx                  application/appxbundle
//	application/msix                  application/msixbundle
//
// The file name forms, all refused:
//
//	Content-Disposition: attachment; filename="Invoice.PDF.EXE"
//	Content-Disposition: attachment; filename="=?UTF-8?B?ZXZpbC5leGU=?="
//	Content-Disposition: attachment; filename*=UTF-8''evil%2Eexe
//	Content-Disposition: attachment; filename*0="ev"; filename*1="il.exe"
//	Content-Type: application/octet-stream; name="evil.scr."
//
// # Archives
//
// A decoded leaf is a zip archive (PKWARE APPNOTE.TXT) when it starts with
// a local file header or ends with an end of central directory record,
// whatever the part's name or type: a zip renamed .pdf is still looked
// into. Only the names of its entries are read, never their content, with
// two lists: the central directory (archive/zip, what Windows and most
// extractors show) and the local file headers (read here: what a reader
// of a damaged archive, or of one without a central directory, shows). An
// executable name in either is refused, with the reason "executable
// attachment refused: .exe (in a zip archive)". Encryption hides the
// content, not the names, so an encrypted archive is judged the same way.
//
// One level of nesting is opened: an entry named .zip is inflated (at most
// 32 MiB for all the archives inside one message together) and its names
// are read in turn. Refused as MIME_TOO_COMPLEX, since they cannot be
// looked into whole: an archive larger than 32 MiB (more than the default
// message size), or with more than 1000 central directory or more than
// 1000 local file headers (those of an archive stored inside counted too:
// this bounds what archive/zip reads into memory), or with an entry name
// longer than 4096 octets; an archive inside an archive inside an
// archive; an archive inside that is encrypted, uses a method Go cannot
// inflate, is damaged or is too large; an archive that only the local
// headers name. Other archive formats (7z, RAR, tar, gzip) are not opened,
// and not refused.
//
// # uuencode
//
// Mail clients decode uuencoded files in a text body. Every line of the
// raw message and of every decoded leaf that starts a uuencoded file —
// "begin" or "begin-base64", an octal mode, the file name, case and
// leading white space ignored — is read for the name: an executable name
// is refused ("executable attachment refused: .exe (uuencoded)"), and so
// is a zip archive's, as MIME_TOO_COMPLEX, since uuencode is not decoded
// here and the archive could not be looked into. Other uuencoded files
// (a report.txt from a cron job) pass: uuencode alone is not a sign of
// abuse. The price is that a line of prose that starts with "begin 644"
// and ends with an executable's name is refused too.
//
// A refusal's score is HardScore (1000).
//
// # rspamd
//
// Rspamd speaks rspamd's HTTP protocol: POST /checkv2 with the message as
// the body and the envelope in the request headers IP, Helo, From, Rcpt
// (one per recipient), User (the authenticated user: rspamd then treats
// the message as outbound) and Queue-Id. The JSON reply's action,
// score, symbols, messages.smtp_message and milter.add_headers make the
// verdict. rspamd's actions map to Postern's: "no action" → accept, "add
// header" and "rewrite subject" → add_header, "greylist" → greylist,
// "soft reject" → soft_reject, and "reject", "discard" and "quarantine"
// → reject (Postern never drops mail silently). For add_header, X-Spam, X-Spam-Score and X-Spam-Status
// are added unless rspamd's milter headers replace them. A transport
// error, a timeout (Rspamd.Timeout, 10 s by default), an HTTP status
// other than 200, a reply over 1 MiB or one that is not a verdict is an
// error wrapping ErrUnavailable.
//
// # The chain
//
// Chain runs Builtin, then rspamd if configured; the stricter action
// wins and the higher score is kept. A built-in reject is final: rspamd
// is not asked, so GTUBE and executables are refused even when rspamd is
// down. When rspamd fails, Chain.FailOpen decides: the built-in verdict
// stands (fail open), or Scan returns the error (fail closed), which the
// SMTP server turns into a temporary 451 so that no mail is lost. Either
// way a warning is logged.
//
// # Decide
//
// Decide is pure: reject → 550 5.7.1, soft_reject and greylist → 451
// 4.7.1, add_header → accept with headers, accept → accept (RFC 5321
// §4.2 reply codes, RFC 3463 enhanced codes; X.7.1 is "delivery not
// authorized, message refused"). A user's threshold, when set, makes a
// score at or over it a reject, whatever the scanner advised; it never
// makes a verdict milder. Reply texts never quote the message.
package spamscan
