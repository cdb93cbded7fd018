// Twilio's Voice SDK as a bundle of its own (dist/voice-sdk.js, served under
// a content hash): the dialer's first load does not carry it, and the page
// imports it by the URL the server gives (<meta name="voice-sdk">), once a
// number can be called (prefetch) and when Call is tapped.
export * from "@twilio/voice-sdk"
