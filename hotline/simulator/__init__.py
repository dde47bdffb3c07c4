"""An Asterisk stand-in: real ARI (REST + websocket) and AMI (TCP) over real sockets,
shaped after the recordings in ``../shared/asterisk/captures``, with scripted traffic."""
