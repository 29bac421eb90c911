"""French and English labels for the pages (French first, as the original VSION UI)."""
from __future__ import annotations

from flask import request, session

LANGUAGES = ("fr", "en")

LABELS: dict[str, tuple[str, str]] = {  # key: (fr, en)
    "app_title": ("VSION — capture de mouvement", "VSION — motion capture"),
    "cameras": ("Caméras", "Cameras"),
    "calibration": ("Calibration", "Calibration"),
    "camera": ("Caméra", "Camera"),
    "record": ("Enregistrer", "Record"),
    "stop": ("Arrêter", "Stop"),
    "recording": ("Enregistrement en cours", "Recording"),
    "idle": ("Prêt", "Ready"),
    "take_saved": ("Prise enregistrée", "Take saved"),
    "frames": ("images", "frames"),
    "fps": ("img/s", "fps"),
    "dropped": ("perdues", "dropped"),
    "viewers": ("spectateurs", "viewers"),
    "status_connecting": ("connexion…", "connecting…"),
    "status_connected": ("connectée", "connected"),
    "status_reconnecting": ("reconnexion…", "reconnecting…"),
    "status_failed": ("hors service", "failed"),
    "status_stopped": ("arrêtée", "stopped"),
    "login_title": ("Connexion", "Sign in"),
    "username": ("Identifiant", "User name"),
    "password": ("Mot de passe", "Password"),
    "sign_in": ("Se connecter", "Sign in"),
    "logout": ("Déconnexion", "Sign out"),
    "bad_login": ("Identifiant ou mot de passe incorrect.", "Wrong user name or password."),
    "login_required": ("Connectez-vous pour continuer.", "Please sign in to continue."),
    "live_disconnected": ("Connexion au serveur perdue, nouvelle tentative…",
                          "Connection to the server lost, retrying…"),
    "role_admin": ("administrateur", "administrator"),
    "role_technician": ("technicien", "technician"),
    "role_expert": ("expert", "expert"),
    "role_trainee": ("apprenant", "trainee"),
    "elapsed": ("Durée", "Elapsed"),
    "folder": ("Dossier", "Folder"),
    "language": ("English", "Français"),  # the label of the link to the *other* language
    # Live page: live pose overlays, 3D skeleton and processing jobs (templates/index.html,
    # static/js/live.js, static/js/skeleton3d.js). {name} placeholders are filled in by the script.
    "live_pose": ("Squelette en direct", "Live skeleton"),
    "live_pose_rate": ("Pose en direct : {rate} Hz", "Live pose: {rate} Hz"),
    "live_pose_waiting": ("En attente du squelette en direct…", "Waiting for the live skeleton…"),
    "live_pose_no_calibration": ("Pas de calibration : squelette 3D indisponible",
                                 "No calibration: 3D skeleton unavailable"),
    "live_pose_no_person": ("Aucun squelette 3D : personne n'est vu par au moins deux caméras.",
                            "No 3D skeleton: nobody is seen by two cameras or more."),
    "live_pose_unavailable": ("Squelette en direct indisponible sur ce serveur.",
                              "The live skeleton is not available on this server."),
    "skeleton_title": ("Squelette 3D", "3D skeleton"),
    "skeleton_reset": ("Recentrer", "Reset view"),
    "skeleton_help": ("Glisser : tourner · molette : zoomer · clic droit : déplacer. Grille : 50 cm.",
                      "Drag: rotate · wheel: zoom · right-click: pan. Grid: 50 cm."),
    "skeleton_3d_unavailable": ("Vue 3D indisponible : ce navigateur ne prend pas en charge WebGL.",
                                "3D view unavailable: this browser does not support WebGL."),
    "jobs_title": ("Traitement", "Processing"),
    "job_take": ("Prise {take}", "Take {take}"),
    "job_status_queued": ("en attente", "queued"),
    "job_status_running": ("en cours", "running"),
    "job_status_done": ("terminé", "done"),
    "job_status_failed": ("échec", "failed"),
    "job_stage_2d_pose": ("pose 2D", "2D pose"),
    "job_stage_sync": ("synchronisation", "sync"),
    "job_stage_triangulation": ("triangulation", "triangulation"),
    "job_stage_filtering": ("filtrage", "filtering"),
    "job_stage_exports": ("exports", "exports"),
    "job_failed": ("Échec du traitement : {message}", "Processing failed: {message}"),
    "job_failed_no_message": ("Échec du traitement : voir le journal du serveur.",
                              "Processing failed: see the server's log."),
    "job_reprojection": ("Erreur de reprojection médiane : {px} px", "Median reprojection error: {px} px"),
    "job_reconstructed": ("Reconstruit : {pct} %", "Reconstructed: {pct}%"),
    # Calibration wizard (templates/calibration.html, static/js/calibration.js, static/js/rig3d.js).
    # {name} placeholders are filled in by the page's script.
    "calib_title": ("Calibration des caméras", "Camera calibration"),
    "calib_steps": ("Étapes de la calibration", "Calibration steps"),
    "calib_step_extrinsics": ("Extrinsèques", "Extrinsics"),
    "calib_step_floor": ("Origine au sol", "Floor origin"),
    "calib_step_result": ("Résultat", "Result"),
    "calib_active_is": ("Calibration active :", "Active calibration:"),
    "calib_no_active": ("Aucune calibration active : suivez les étapes ci-dessous.",
                        "No active calibration: follow the steps below."),
    "calib_no_cameras": ("Aucune caméra n'est configurée : ajoutez-les dans le fichier de configuration puis "
                         "redémarrez le serveur.",
                         "No camera is configured: add them to the configuration file, then restart the server."),
    "calib_connecting": ("Connexion au serveur…", "Connecting to the server…"),
    "calib_timeout": ("Le serveur ne répond pas : vérifiez la connexion puis réessayez.",
                      "The server does not answer: check the connection and try again."),
    "calib_bad_answer": ("Réponse inattendue du serveur : réessayez ; si cela persiste, consultez son journal.",
                         "Unexpected answer from the server: try again; if it persists, look at its log."),
    "calib_begin_failed": ("Impossible de démarrer la calibration : {message}",
                           "The calibration could not start: {message}"),
    "calib_guide_camera": ("{camera} : montrez le damier entier à la caméra et tenez-le immobile dans des positions "
                           "variées (centre, bords, coins, incliné).",
                           "{camera}: show the whole board to the camera and hold it still in varied positions "
                           "(centre, edges, corners, tilted)."),
    "calib_guide_extrinsics": ("Montrez le damier immobile à plusieurs caméras à la fois, jusqu'à ce que toutes "
                               "soient reliées dans le graphe, puis lancez la calibration.",
                               "Show the board, held still, to several cameras at once until every camera is "
                               "linked in the graph, then run the calibration."),
    "calib_guide_floor": ("Posez le damier à plat au sol à l'endroit de l'origine, puis cliquez sur « Capturer "
                          "l'origine ».",
                          "Lay the board flat on the floor where the origin should be, then click “Capture the "
                          "origin”."),
    "calib_guide_result": ("Vérifiez la position des caméras et les erreurs, puis cliquez sur « Enregistrer ».",
                           "Check the camera positions and the errors, then click “Save”."),
    "calib_no_feed": ("Pas d'image : vérifiez que la caméra est connectée (page Caméras). Nouvelle tentative…",
                      "No picture: check that the camera is connected (Cameras page). Retrying…"),
    "calib_legend_still": ("immobile", "still"),
    "calib_legend_moving": ("en mouvement", "moving"),
    "calib_legend_first": ("premier coin (orientation)", "first corner (orientation)"),
    "calib_board_line": ("Résolution {w} x {h} · côté du carré {side} cm · {cols} x {rows} coins",
                         "Resolution {w} x {h} · square side {side} cm · {cols} x {rows} corners"),
    "calib_views_captured": ("vues capturées", "views captured"),
    "calib_views_short": ("vues", "views"),
    "calib_min_views": ("minimum {n}", "at least {n}"),
    "calib_coverage_map": ("Couverture de l'image", "Image coverage"),
    "calib_coverage_help": ("Cases rouges : aucun coin vu. Montrez le damier dans ces zones, surtout près des bords "
                            "et des coins.",
                            "Red cells: no corner seen. Show the board there, especially near the edges and "
                            "corners."),
    "calib_auto": ("Capture automatique (damier immobile)", "Automatic capture (board held still)"),
    "calib_auto_on": ("Capture automatique activée : tenez le damier immobile pour capturer une vue.",
                      "Automatic capture on: hold the board still to capture a view."),
    "calib_auto_off": ("Capture automatique désactivée : cliquez sur « Capturer » pour chaque vue.",
                       "Automatic capture off: click “Capture” for each view."),
    "calib_check": ("Vérifier le damier", "Check the board"),
    "calib_capture": ("Capturer", "Capture"),
    "calib_run": ("Lancer la calibration", "Run the calibration"),
    "calib_reset": ("Effacer les vues", "Clear the views"),
    "calib_reset_confirm": ("Confirmer l'effacement", "Confirm clearing"),
    "calib_reset_done": ("Vues effacées pour {camera} : recommencez les captures.",
                         "Views cleared for {camera}: capture again."),
    "calib_next": ("Suivant", "Next"),
    "calib_prev": ("Précédent", "Previous"),
    "calib_found": ("Damier détecté", "Board found"),
    "calib_not_found": ("Damier non détecté", "Board not found"),
    "calib_still": ("immobile", "still"),
    "calib_moving": ("en mouvement", "moving"),
    "calib_captured_n": ("Vue capturée ({n} au total).", "View captured ({n} in total)."),
    "calib_need_views": ("Capturez encore {n} vue(s) pour pouvoir lancer la calibration.",
                         "Capture {n} more view(s) to be able to run the calibration."),
    "calib_ready_to_run": ("Assez de vues : lancez la calibration (des vues plus variées donnent un meilleur "
                           "résultat).",
                           "Enough views: run the calibration (more varied views give a better result)."),
    "calib_running": ("Calibration en cours…", "Calibration running…"),
    "calib_running_camera": ("Calibration de {camera} en cours…", "Calibrating {camera}…"),
    "calib_intr_done": ("{camera} calibrée : erreur RMS {rms} px.", "{camera} calibrated: RMS error {rms} px."),
    "calib_intr_failed": ("La calibration de {camera} a échoué : lisez le message ci-dessous.",
                          "Calibrating {camera} failed: read the message below."),
    "calib_intr_done_next": ("Calibration réussie : passez à la caméra suivante avec « Suivant ».",
                             "Calibration done: go to the next camera with “Next”."),
    "calib_intr_done_last": ("Calibration réussie : passez aux extrinsèques avec « Suivant ».",
                             "Calibration done: go on to the extrinsics with “Next”."),
    "calib_result": ("Résultat de la calibration", "Calibration result"),
    "calib_not_calibrated": ("Pas encore calibrée.", "Not calibrated yet."),
    "calib_rms": ("Erreur RMS", "RMS error"),
    "calib_quality_good": ("bonne", "good"),
    "calib_quality_fair": ("acceptable", "fair"),
    "calib_quality_poor": ("à refaire", "redo"),
    "calib_views_used": ("Vues utilisées / capturées", "Views used / captured"),
    "calib_views_found": ("Vues avec damier détecté", "Views with the board found"),
    "calib_rejected": ("Vues rejetées", "Rejected views"),
    "calib_none": ("aucune", "none"),
    "calib_coverage": ("Couverture", "Coverage"),
    "calib_focal": ("Focale fx ; fy (px)", "Focal length fx; fy (px)"),
    "calib_principal": ("Centre optique cx ; cy (px)", "Principal point cx; cy (px)"),
    "calib_ext_help": ("Tenez le damier immobile face à au moins deux caméras à la fois : chaque moment capturé "
                       "relie ces caméras. Déplacez-le dans tout le volume de capture.",
                       "Hold the board still in front of two or more cameras at once: each moment captured links "
                       "those cameras. Move it through the whole capture volume."),
    "calib_moments": ("moments capturés", "moments captured"),
    "calib_moments_short": ("moments", "moments"),
    "calib_auto_moments": ("Capture automatique des moments", "Automatic capture of moments"),
    "calib_graph_title": ("Graphe des caméras", "Camera graph"),
    "calib_pairs_title": ("Vues par paire de caméras", "Views per camera pair"),
    "calib_pairs_diag": ("Diagonale : moments vus par chaque caméra. Case rouge : paire sans moment commun.",
                         "Diagonal: moments seen by each camera. Red cell: pair with no moment in common."),
    "calib_isolated_hint": ("montrez le damier à cette caméra et à une voisine en même temps",
                            "show the board to this camera and a neighbour at the same time"),
    "calib_split_hint": ("Les caméras forment {n} groupes séparés : montrez le damier en même temps à deux caméras "
                         "de groupes différents.",
                         "The cameras form {n} separate groups: show the board at the same time to two cameras "
                         "of different groups."),
    "calib_graph_ok": ("Toutes les caméras sont reliées : vous pouvez lancer la calibration.",
                       "Every camera is linked: you can run the calibration."),
    "calib_no_moments": ("Aucun moment capturé : montrez le damier immobile à au moins deux caméras à la fois.",
                         "No moment captured: show the board, held still, to two or more cameras at once."),
    "calib_missing_intrinsics": ("Intrinsèques manquantes pour {cameras} : calibrez d'abord ces caméras à leur "
                                 "étape.",
                                 "Missing intrinsics for {cameras}: calibrate these cameras at their own step "
                                 "first."),
    "calib_reuse_intrinsics": ("Les intrinsèques de la calibration active seront reprises pour : {cameras}.",
                               "The active calibration's intrinsics will be used for: {cameras}."),
    "calib_refine": ("Affiner aussi les intrinsèques", "Also refine the intrinsics"),
    "calib_solve_done": ("Calibration terminée en {s} s ({outliers} observations rejetées). Étape suivante : "
                         "origine au sol.",
                         "Calibration done in {s} s ({outliers} observations rejected). Next step: floor origin."),
    "calib_solve_failed": ("La calibration a échoué : suivez l'indication du message d'erreur, puis relancez-la.",
                           "The calibration failed: follow the error message's advice, then run it again."),
    "calib_stale": ("Des moments ou l'origine au sol ont été capturés depuis le dernier calcul : relancez la "
                    "calibration pour en tenir compte, puis enregistrez.",
                    "Moments or the floor origin were captured since the last run: run the calibration again to "
                    "include them, then save."),
    "calib_stage_board_poses": ("Position du damier dans chaque vue", "Board pose in each view"),
    "calib_stage_initial_poses": ("Positions initiales des caméras", "Initial camera poses"),
    "calib_stage_bundle_adjustment": ("Ajustement de faisceaux", "Bundle adjustment"),
    "calib_stage_bundle_adjustment_without_outliers": ("Ajustement de faisceaux (sans les points aberrants)",
                                                       "Bundle adjustment (without outliers)"),
    "calib_stage_done": ("Terminé", "Done"),
    "calib_floor_help1": ("Posez le damier bien à plat sur le sol, à l'endroit qui doit devenir l'origine.",
                          "Lay the board flat on the floor, where the origin should be."),
    "calib_floor_help2": ("Placez-le pour qu'un maximum de caméras le voient en entier, puis sortez du champ.",
                          "Place it so that as many cameras as possible see all of it, then step out of view."),
    "calib_floor_help3": ("Cliquez sur « Capturer l'origine », puis relancez la calibration pour placer le "
                          "dispositif sur le sol.",
                          "Click “Capture the origin”, then run the calibration again to place the rig on the "
                          "floor."),
    "calib_floor_capture": ("Capturer l'origine", "Capture the origin"),
    "calib_floor_seen": ("Origine vue par {n} caméra(s) sur {total}.", "Origin seen by {n} camera(s) out of {total}."),
    "calib_seen_by": ("vue par {n}", "seen by {n}"),
    "calib_floor_saw": ("l'a vue", "saw it"),
    "calib_floor_missed": ("ne l'a pas vue", "did not see it"),
    "calib_floor_none": ("Aucune caméra n'a vu le damier : vérifiez qu'il est entier dans l'image et bien éclairé, "
                         "puis recommencez.",
                         "No camera saw the board: check that all of it is in the picture and well lit, then try "
                         "again."),
    "calib_floor_then_solve": ("Lancez maintenant la calibration pour placer le dispositif sur le sol, puis passez au "
                               "résultat.",
                               "Now run the calibration to place the rig on the floor, then go on to the result."),
    "calib_floor_done": ("Origine prise en compte : passez au résultat.", "Origin included: go on to the result."),
    "calib_rig3d": ("Vue 3D du dispositif", "3D view of the rig"),
    "calib_rig3d_help": ("Glisser : tourner · molette ou pincer : zoomer · clic droit ou deux doigts : déplacer. "
                         "Grille : 1 m.",
                         "Drag: rotate · wheel or pinch: zoom · right-click or two fingers: pan. Grid: 1 m."),
    "calib_rig3d_unavailable": ("Vue 3D indisponible : ce navigateur ne prend pas en charge WebGL.",
                                "3D view unavailable: this browser does not support WebGL."),
    "calib_reset_view": ("Recentrer la vue", "Reset the view"),
    "calib_back_to_result": ("Revenir au résultat en cours", "Back to the current result"),
    "calib_showing_set": ("Calibration du {date} affichée.", "Showing the calibration of {date}."),
    "calib_no_rig": ("Aucun résultat : lancez la calibration à l'étape « Extrinsèques ».",
                     "No result yet: run the calibration at the “Extrinsics” step."),
    "calib_go_extrinsics": ("Aller aux extrinsèques", "Go to the extrinsics"),
    "calib_rms_col": ("RMS (px)", "RMS (px)"),
    "calib_median_col": ("Médiane (px)", "Median (px)"),
    "calib_views_col": ("Vues", "Views"),
    "calib_outliers": ("Observations rejetées", "Rejected observations"),
    "calib_duration": ("Durée du calcul", "Solve time"),
    "calib_note": ("Note (facultative)", "Note (optional)"),
    "calib_note_placeholder": ("ex. : après déplacement de la caméra 3", "e.g. after moving camera 3"),
    "calib_save": ("Enregistrer", "Save"),
    "calib_saved": ("Calibration enregistrée : {id} ({date}). Elle est maintenant la calibration active.",
                    "Calibration saved: {id} ({date}). It is now the active calibration."),
    "calib_saved_short": ("enregistrée", "saved"),
    "calib_to_save": ("à enregistrer", "to be saved"),
    "calib_sets_title": ("Calibrations enregistrées", "Saved calibrations"),
    "calib_sets_empty": ("Aucune calibration enregistrée pour l'instant.", "No saved calibration yet."),
    "calib_refresh": ("Actualiser", "Refresh"),
    "calib_date": ("Date", "Date"),
    "calib_note_col": ("Note", "Note"),
    "calib_actions": ("Actions", "Actions"),
    "calib_is_active": ("active", "active"),
    "calib_activate": ("Activer", "Activate"),
    "calib_activated": ("Calibration {id} activée : elle est maintenant utilisée pour la reconstruction.",
                        "Calibration {id} activated: it is now used for reconstruction."),
    "calib_show": ("Afficher", "Show"),
    "calib_select": ("Sélectionner pour comparer :", "Select to compare:"),
    "calib_compare": ("Comparer", "Compare"),
    "calib_compare_pick": ("Cochez deux calibrations à comparer.", "Tick two calibrations to compare."),
    "calib_compare_title": ("Comparaison : {a} → {b}", "Comparison: {a} → {b}"),
    "calib_centre_shift": ("Déplacement du centre (mm)", "Centre shift (mm)"),
    "calib_rotation_change": ("Rotation (degrés)", "Rotation (degrees)"),
    "calib_focal_change": ("Variation de focale (%)", "Focal change (%)"),
    "calib_missing_in_one": ("Caméras présentes dans une seule des deux calibrations : {cameras}",
                             "Cameras in only one of the two calibrations: {cameras}"),
    "calib_load_failed": ("Impossible de charger les calibrations enregistrées ({message}) : cliquez sur "
                          "« Actualiser ».",
                          "The saved calibrations could not be loaded ({message}): click “Refresh”."),
    "calib_kv": ("{k} : {v}", "{k}: {v}"),  # French puts a space before the colon
    # Hints the calibration wizard sends as label keys (CalibrationWizard: live, check, capture, floor).
    "hint_no_picture": ("Pas d'image de cette caméra : vérifiez qu'elle est connectée (page Caméras).",
                        "No picture from this camera: check that it is connected (Cameras page)."),
    "hint_no_board": ("Damier non trouvé : montrez le damier entier à la caméra, bien éclairé.",
                      "Board not found: show the whole board to the camera, well lit."),
    "hint_hold_still": ("Damier trouvé : tenez-le immobile un instant.", "Board found: hold it still for a moment."),
    "hint_captured": ("Vue capturée : déplacez ou inclinez le damier vers une nouvelle position.",
                      "View captured: move or tilt the board to a new position."),
    "hint_move_board": ("Position déjà capturée : déplacez le damier vers une case rouge de la carte, ou inclinez-le.",
                        "Position already captured: move the board to a red cell of the map, or tilt it."),
    "hint_board_ok": ("Damier trouvé et immobile : prêt à capturer.", "Board found and still: ready to capture."),
    "hint_floor_ok": ("Origine capturée.", "Origin captured."),
}


def current_language() -> str:
    """The language of this request: ``?lang=``, else the session's, else the browser's, else French."""
    lang = request.args.get("lang")
    if lang in LANGUAGES:
        session["lang"] = lang
        return lang
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    return request.accept_languages.best_match(LANGUAGES) or "fr"


def translate(key: str, lang: str | None = None) -> str:
    labels = LABELS.get(key)
    if labels is None:
        return key
    return labels[LANGUAGES.index(lang or current_language())]


def labels_for(lang: str) -> dict[str, str]:
    """Every label in ``lang``, for the page's script (passed as a data attribute, not inline JS)."""
    i = LANGUAGES.index(lang)
    return {key: pair[i] for key, pair in LABELS.items()}
