export APP_SHAREBOX_PORT="9000"
export APP_SHAREBOX_HOST="sharebox_server_1"
export APP_SHAREBOX_TOKEN=$(derive_entropy "${app_entropy_identifier}-TOKEN" | head -c32)

local_ips=$(hostname --all-ip-addresses 2> /dev/null) || local_ips=""
export APP_SHAREBOX_LOCAL_IPS="${local_ips}"
