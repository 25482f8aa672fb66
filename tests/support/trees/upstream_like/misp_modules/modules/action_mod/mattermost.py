# Upstream's Mattermost needs mattermostdriver; here it is missing.
import a_mattermost_driver_that_is_not_installed  # noqa: F401
