#!/usr/bin/python3
"""Download one torrent with libtorrent (Debian's python3-libtorrent), a BitTorrent client that
is not ours, over TCP from the peers named and from nothing else: its trackers, web seeds, DHT,
local discovery and uTP are off. The peers are asked again every second until it completes (a
node may be starting, or taking a dead node's torrents over).

  libtorrent_download.py <file.torrent> <save folder> <timeout seconds> <host:port>...

Prints one JSON line: the downloaded file's SHA-256 and the blocks (16 KiB) each peer sent ("host:port").
Exits 1 when the download did not complete in time.
"""
import hashlib
import json
import os
import sys
import time

import libtorrent as lt

torrent_file, save_path, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
peers = [(host, int(port)) for host, port in (arg.rsplit(':', 1) for arg in sys.argv[4:])]

session = lt.session({
    'listen_interfaces': '127.0.0.1:0',
    'enable_dht': False,
    'enable_lsd': False,
    'enable_upnp': False,
    'enable_natpmp': False,
    'enable_outgoing_utp': False,
    'enable_incoming_utp': False,
    # Every node is on 127.0.0.1: one peer per address would leave all but one out.
    'allow_multiple_connections_per_ip': True,
    'alert_mask': lt.alert_category.block_progress,
})
params = lt.add_torrent_params()
params.ti = lt.torrent_info(torrent_file)
params.save_path = save_path
params.flags = (params.flags | lt.torrent_flags.paused | lt.torrent_flags.disable_dht
                | lt.torrent_flags.disable_lsd | lt.torrent_flags.disable_pex) & ~lt.torrent_flags.auto_managed
handle = session.add_torrent(params)
# Bytes from the named peers alone: no web seed (the node's URL, the bucket) and no tracker.
for url in handle.url_seeds():
    handle.remove_url_seed(url)
for url in handle.http_seeds():
    handle.remove_http_seed(url)
handle.replace_trackers([])
handle.resume()

# Blocks received, by the peer ("host:port") that sent them, from libtorrent's own alerts: a
# peer's connection closes once both ends have everything, so its counters cannot be read after.
blocks = {}


def count_blocks():
    for alert in session.pop_alerts():
        if isinstance(alert, lt.block_finished_alert):
            key = '%s:%d' % alert.endpoint
            blocks[key] = blocks.get(key, 0) + 1


deadline = time.monotonic() + timeout
asked = 0
while not handle.status().is_seeding and time.monotonic() < deadline:
    if time.monotonic() - asked > 1:
        for peer in peers:
            handle.connect_peer(peer)
        asked = time.monotonic()
    session.wait_for_alert(100)
    count_blocks()
count_blocks()

digest = None
if handle.status().is_seeding:
    file = os.path.join(save_path, params.ti.files().file_path(0))
    sha256 = hashlib.sha256()
    with open(file, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            sha256.update(block)
    digest = sha256.hexdigest()
print(json.dumps({'sha256': digest, 'blocks': blocks}))
sys.exit(0 if digest else 1)
