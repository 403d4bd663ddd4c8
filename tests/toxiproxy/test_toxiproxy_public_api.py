import sselab.toxiproxy as tp

EXPECTED = {"VERSION", "ApiError", "Chunk", "Stub", "ThreadedToxiproxy", "ToxiproxyServer",
            "make_app", "register", "start_in_thread", "toxic_types"}


def test_all_is_the_public_surface():
    assert set(tp.__all__) == EXPECTED
    for name in tp.__all__:
        assert getattr(tp, name) is not None


async def test_server_exposes_host_port_and_api_url():
    async with tp.ToxiproxyServer() as server:
        assert server.host == "127.0.0.1" and server.port > 0
        assert server.api_url == f"http://127.0.0.1:{server.port}"
    with tp.start_in_thread() as threaded:
        assert threaded.api_url == f"http://{threaded.host}:{threaded.port}"
