// WebTorrent's prebuilt browser bundle has the same API as the package (typed in server/seeder/webtorrent.d.ts).
declare module 'webtorrent/dist/webtorrent.min.js' {
  export { default } from 'webtorrent'
}
