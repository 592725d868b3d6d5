package geekapk

import "net/http"

// Register mounts every GeekApk path on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	for _, rt := range []struct {
		pattern string
		fn      handlerFunc
	}{
		{"GET /version", h.version_},
		{"GET /ping", h.ping},
		{"POST /validate-metapass/{uid}", h.validateMetapass},
		{"POST /validate/{uid}", h.validatePasshash},
		{"PUT /pass/{uid}/{passhash}", h.setPassPath},
		{"PUT /pass/{uid}", h.setPassJSON},
		{"GET /webhooks", h.webhooks},

		{"POST /doge/useradd", h.userAdd},
		{"DELETE /doge/user/{uid}", h.dogeDeleteUser},
		{"PUT /doge/user/{uid}", h.toggleUser},
		{"PUT /doge/user/{uid}/metapass", h.setMetapass},
		{"POST /doge/category/{parent}", h.createCategory},
		{"PUT /doge/category/{tid}", h.renameCategory},
		{"PUT /doge/category/{tid}/parent", h.moveCategory},
		{"DELETE /doge/category/{tid}", h.deleteCategory},
		{"DELETE /doge/comment/{cid}", h.deleteComment},
		{"DELETE /doge/app/{aid}", h.deleteApp},

		{"GET /user/all", h.users},
		{"POST /user/search", h.searchUsers},
		{"GET /user/{uid}", h.user},
		{"PUT /user/{uid}", h.updateUser},
		{"DELETE /user/{uid}", h.deleteUser},
		{"GET /user/{uid}/followers", h.followers},
		{"GET /user/{uid}/following", h.following},
		{"GET /user/{uid}/follow", h.follows},
		{"PUT /user/{uid}/follow", h.toggleFollow},
		{"GET /user/{uid}/online", h.onlineAt},
		{"PUT /user/{uid}/online", h.markOnline},
		{"GET /user/{uid}/apps", h.userApps},
		{"GET /user/{uid}/comments", h.userComments},
		{"GET /user/{uid}/stars", h.userStars},
		{"GET /user/{uid}/cstars", h.userCommentStars},
		{"GET /user/{uid}/timeline", h.userTimeline},
		{"GET /user/{uid}/notifications", h.notifications},

		{"GET /category/all", h.categories},
		{"GET /category/{tid}", h.category},
		{"GET /category/{tid}/parent", h.categoryParent},
		{"GET /category/{tid}/apps", h.categoryApps},
		{"POST /category/{tid}/search", h.searchCategory},

		{"POST /app", h.createApp},
		{"GET /app/all", h.apps},
		{"POST /app/search", h.searchApps},
		{"GET /app/{aid}", h.app},
		{"PUT /app/{aid}", h.updateApp},
		{"DELETE /app/{aid}", h.deleteApp},
		{"GET /app/{aid}/stars", h.appStargazers},
		{"PUT /app/{aid}/stars", h.toggleStar},
		{"GET /app/{aid}/star", h.starred},
		{"PUT /app/{aid}/star", h.toggleStar},
		{"GET /app/{aid}/comments", h.appComments},
		{"GET /app/{aid}/updates", h.updates},
		{"POST /app/{aid}/update", h.publishUpdate},
		{"POST /app/{aid}/comment", h.createComment},

		{"GET /comment/all", h.comments},
		{"POST /comment/search", h.searchComments},
		{"GET /comment/{cid}", h.comment},
		{"PUT /comment/{cid}", h.editComment},
		{"DELETE /comment/{cid}", h.deleteComment},
		{"GET /comment/{cid}/star", h.commentStarred},
		{"PUT /comment/{cid}/star", h.toggleCommentStar},
		{"GET /comment/{cid}/replies", h.replies},
		{"GET /comment/{cid}/stars", h.commentStargazers},

		{"GET /updates/{aid}", h.countUpdates},
		{"PUT /updates/{aid}/{rev}", h.saveUpdate},
		{"DELETE /updates/{aid}/{rev}", h.deleteUpdate},

		{"GET /timeline", h.timeline},
		{"GET /timeline/{uids}", h.usersTimeline},

		{"POST /notification/{uid}/{cid}", h.mention},
		{"PUT /notification/{uid}/{created}", h.toggleNotification},
		{"DELETE /notification/{uid}/{created}", h.deleteNotification},
	} {
		h.handle(mux, rt.pattern, rt.fn)
	}
}
