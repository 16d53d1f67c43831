/* The WeCom sandbox's JS-SDK player: stands in for WeCom's jwxwork script on a local page (SIYU_JSSDK_URL).
 *
 * It defines what the chat sidebar uses of the real `wx`: config / ready / error, agentConfig and
 * invoke("getCurExternalContact"). Signatures are checked by the sandbox against the tickets it issued for the page's
 * URL (without its #fragment), exactly as WeCom checks them; the current chat is the one set by
 * POST /sandbox/jssdk/context. It talks to the sandbox by JSONP (a script element per call), so a page whose CSP
 * allows this script's origin in script-src needs nothing more: no connect-src, no CORS.
 *
 * Answers follow the JS-SDK's shapes: success({errMsg: "agentConfig:ok"}), fail({errMsg: "agentConfig:fail ..."});
 * invoke's callback gets {err_msg: "getCurExternalContact:ok", userId} or {err_msg: "getCurExternalContact:fail ..."}.
 */
(function () {
  "use strict";
  var me = document.currentScript;
  var base = me ? me.src.replace(/\/sandbox\/jssdk\.js(\?.*)?$/, "/sandbox/jssdk/") : "/sandbox/jssdk/";
  var seq = 0;
  var state = { config: null, agent: null, readyCbs: [], errorCbs: [], configured: false, failed: null };

  function pageUrl() {
    return window.location.href.split("#")[0];
  }

  function query(params) {
    return Object.keys(params)
      .map(function (k) {
        return encodeURIComponent(k) + "=" + encodeURIComponent(String(params[k]));
      })
      .join("&");
  }

  function jsonp(name, params, done) {
    seq += 1;
    var cb = "__siyuSandboxJssdk" + seq;
    var el = document.createElement("script");
    var finished = false;
    function finish(answer) {
      if (finished) return;
      finished = true;
      try {
        delete window[cb];
      } catch (e) {
        window[cb] = undefined;
      }
      if (el.parentNode) el.parentNode.removeChild(el);
      done(answer);
    }
    window[cb] = finish;
    el.onerror = function () {
      finish({ ok: false, errMsg: "sandbox unreachable" });
    };
    el.src = base + name + "?" + query(params) + "&cb=" + cb;
    document.head.appendChild(el);
  }

  function signed(kind, o) {
    return {
      kind: kind,
      corpid: o.corpid || o.appId || "",
      agentid: o.agentid || "",
      timestamp: o.timestamp,
      nonceStr: o.nonceStr || "",
      signature: o.signature || "",
      url: pageUrl(),
    };
  }

  var wx = {
    sandbox: true,
    config: function (o) {
      jsonp("verify.js", signed("corp", o), function (r) {
        if (r.ok) {
          state.config = o;
          state.configured = true;
          state.readyCbs.forEach(function (f) { f(); });
        } else {
          state.failed = { errMsg: "config:fail " + r.errMsg };
          state.errorCbs.forEach(function (f) { f(state.failed); });
        }
      });
    },
    ready: function (f) {
      if (state.configured) f();
      else state.readyCbs.push(f);
    },
    error: function (f) {
      if (state.failed) f(state.failed);
      else state.errorCbs.push(f);
    },
    agentConfig: function (o) {
      jsonp("verify.js", signed("agent_config", o), function (r) {
        if (r.ok) {
          state.agent = o;
          if (o.success) o.success({ errMsg: "agentConfig:ok" });
        } else if (o.fail) {
          o.fail({ errMsg: "agentConfig:fail " + r.errMsg });
        }
        if (o.complete) o.complete({ errMsg: r.ok ? "agentConfig:ok" : "agentConfig:fail " + r.errMsg });
      });
    },
    invoke: function (name, params, cb) {
      cb = cb || function () {};
      if (name !== "getCurExternalContact") {
        cb({ err_msg: name + ":fail not played by the sandbox" });
        return;
      }
      var agent = state.agent;
      if (!agent || (agent.jsApiList || []).indexOf(name) < 0) {
        cb({ err_msg: name + ":fail no permission (call wx.agentConfig with it in jsApiList first)" });
        return;
      }
      jsonp("contact.js", { corpid: agent.corpid, agentid: agent.agentid || "" }, function (r) {
        cb(r.err_msg ? r : { err_msg: name + ":fail " + (r.errMsg || "sandbox error") });
      });
    },
  };
  window.wx = wx;
})();
