"""The MSSanté bridge: mails in and out of patient rooms (bridge/bot.py, run by `liaison bridge`)."""

# The first word of every bridge command: the bots in the rooms it shares leave these to it
# (bots/registry.py). Here, not in bridge/bot.py, so that knowing them imports none of the bridge.
COMMAND_WORDS = ("mss", "mail")
